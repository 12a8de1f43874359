/**
 * bench:train's throughput goals as a registry: each definition reads the benchmark's
 * record and gives one row per case and device it applies to, met or not against its
 * threshold in the config's `goals`, or "not measured here" when this machine has no row
 * to judge it on. A new goal is one new entry.
 */
import type { BenchRecord, EngineKey, GridResult, Measurement, PackResult, TorchResult } from "./train-throughput-record.ts";

export type GoalStatus = "met" | "NOT met" | "not measured here";

export interface GoalRow {
  goal: string;
  status: GoalStatus;
  measured: string;
}

export interface GoalDefinition {
  id: string;
  /** What it measures, in words. */
  measures: string;
  judge(r: BenchRecord): GoalRow[];
}

export type MeasuredRow = Extract<Measurement, { status: "measured" }>;
export type MeasuredTorch = Extract<TorchResult, { status: "measured" }>;
type MeasuredPack = Extract<PackResult, { status: "measured" }>;

const NOT_MEASURED: GoalStatus = "not measured here";
const percent = (x: number) => `${(100 * x).toFixed(1)}%`;
const metIf = (ok: boolean): GoalStatus => (ok ? "met" : "NOT met");
const DEVICES = ["cpu", "cuda"] as const;

export const rawTorch = (r: BenchRecord, c: string, device: "cpu" | "cuda") =>
  r.torch.find((t) => t.case === c && t.device === device && t.status === "measured") as MeasuredTorch | undefined;

/**
 * The row of an engine and case a goal is judged on: for torch rows, the fp32 one with
 * CUDA graphs as asked (eager: what raw PyTorch eager is compared with), the fastest if several.
 */
export const engineRow = (r: BenchRecord, c: string, engine: EngineKey, graphs = false) =>
  (
    r.throughput.filter(
      (x) => x.case === c && x.engine === engine && x.status === "measured" && (x.precision ?? "fp32") === "fp32" && (x.cudaGraphs ?? false) === graphs,
    ) as MeasuredRow[]
  ).sort((a, b) => b.imagesPerSecond - a.imagesPerSecond)[0];

export const measuredPacks = (r: BenchRecord) => (r.packs ?? []).filter((p) => p.status === "measured") as MeasuredPack[];

export const engineVsRawGoal: GoalDefinition = {
  id: "throughput.torch-engine-vs-raw",
  measures: "the torch engine's epoch images/s over raw PyTorch's on the same case and device (goals.torchEngineVsRawMin, ...Cuda)",
  judge(r) {
    const g = r.config.goals;
    return DEVICES.flatMap((device) => {
      const min = device === "cpu" ? g.torchEngineVsRawMin : g.torchEngineVsRawMinCuda;
      return r.config.throughput.cases.map((c): GoalRow => {
        const m = engineRow(r, c.name, `torch-${device}`);
        const t = rawTorch(r, c.name, device);
        const goal = `torch engine epoch (augmented, batches built on the device) >= ${min}x raw PyTorch epoch (data in memory${device === "cuda" ? ", eager" : ""}), ${device}, ${c.name}`;
        if (!m || !t) return { goal, status: NOT_MEASURED, measured: `no ${!m ? `torch-${device} row` : `raw PyTorch ${device} row`} on this machine` };
        const ratio = m.imagesPerSecond / t.imagesPerSecond;
        return {
          goal,
          status: metIf(ratio >= min),
          measured: `${ratio.toFixed(2)}x (${m.imagesPerSecond.toFixed(0)} vs ${t.imagesPerSecond.toFixed(0)} img/s; ${m.msPerStep.toFixed(2)} vs ${t.msPerStep.toFixed(2)} ms per step over epochs of ${m.steps} and ${t.steps} steps)`,
        };
      });
    });
  },
};

export const hostShareGoal: GoalDefinition = {
  id: "throughput.host-share",
  measures: "the torch engine's time per step outside its own computation, as a share of the step (goals.hostShareMax)",
  judge(r) {
    const max = r.config.goals.hostShareMax;
    return DEVICES.flatMap((device) =>
      r.config.throughput.cases.map((c): GoalRow => {
        const m = engineRow(r, c.name, `torch-${device}`);
        const goal = `torch engine host time <= ${percent(max)} of the step, ${device}, ${c.name}`;
        if (!m || m.hostShare === null || m.hostMsPerStep === null) return { goal, status: NOT_MEASURED, measured: `no torch-${device} row on this machine` };
        const build =
          m.batchMsPerStep === null
            ? "building batches on the device is not separable on CUDA, counted as the step's"
            : `of which building batches on the device ${m.batchMsPerStep.toFixed(2)} ms`;
        return {
          goal,
          status: metIf(m.hostShare <= max),
          measured: `${percent(m.hostShare)} (${m.hostMsPerStep.toFixed(2)} of ${m.msPerStep.toFixed(2)} ms per step; ${build})`,
        };
      }),
    );
  },
};

export const cudaGraphGoal: GoalDefinition = {
  id: "throughput.cuda-graphs",
  measures: "the torch engine's images/s with CUDA graphs on the goal's case and GPUs (goals.graphImagesPerSecond, graphCase, graphGpus)",
  judge(r) {
    const g = r.config.goals,
      gc = g.graphCase;
    const graphCase = r.config.throughput.cases.find((c) => c.arch === gc.arch && c.width === gc.width && c.batchSize === gc.batchSize);
    const goal = `torch engine with CUDA graphs >= ${g.graphImagesPerSecond} img/s, ${gc.arch} w${gc.width} batch ${gc.batchSize}, on ${g.graphGpus.join("/")}`;
    const row = (status: GoalStatus, measured: string): GoalRow[] => [{ goal, status, measured }];
    const cudaRow = graphCase && (engineRow(r, graphCase.name, "torch-cuda", true) ?? engineRow(r, graphCase.name, "torch-cuda"));
    if (!graphCase) return row(NOT_MEASURED, "no such case in throughput.cases");
    if (!cudaRow) return row(NOT_MEASURED, "no torch-cuda row on this machine");
    if (!cudaRow.cudaGraphs) return row(NOT_MEASURED, `CUDA graphs were off (${cudaRow.imagesPerSecond.toFixed(0)} img/s)`);
    if (!g.graphGpus.some((name) => (cudaRow.gpu ?? "").includes(name)))
      return row(NOT_MEASURED, `${cudaRow.imagesPerSecond.toFixed(0)} img/s on ${cudaRow.gpu ?? cudaRow.provider}, not one of the goal's GPUs`);
    return row(metIf(cudaRow.imagesPerSecond >= g.graphImagesPerSecond), `${cudaRow.imagesPerSecond.toFixed(0)} img/s on ${cudaRow.gpu}`);
  },
};

export const packGoal: GoalDefinition = {
  id: "throughput.packed-training",
  measures: "the torch engine's grouped pack: its best K's images/s over its K=1 pack's, per case and device (goals.packSpeedupMin)",
  judge(r) {
    const min = r.config.goals.packSpeedupMin;
    const cases = r.config.throughput.cases.filter((c) => (r.packs ?? []).some((p) => p.case === c.name));
    return (["torch-cpu", "torch-cuda"] as const).flatMap((engine) =>
      cases.map((c): GoalRow => {
        const goal = `packed training: best pack's images/s >= ${min}x one model's (K=1), ${engine} grouped, same threads, ${c.name}`;
        const rowsHere = measuredPacks(r).filter((p) => p.case === c.name && p.engine === engine && p.formulation === "grouped");
        const one = rowsHere.find((p) => p.size === 1);
        const best = rowsHere.filter((p) => p.size > 1).sort((a, b) => b.imagesPerSecond - a.imagesPerSecond)[0];
        const skipped = (r.packs ?? []).find((p) => p.case === c.name && p.engine === engine && p.status === "skipped") as
          Extract<PackResult, { status: "skipped" }> | undefined;
        if (!one || !best) return { goal, status: NOT_MEASURED, measured: skipped?.reason ?? `no ${engine} pack rows` };
        const ratio = best.imagesPerSecond / one.imagesPerSecond;
        return {
          goal,
          status: metIf(ratio >= min),
          measured: `${ratio.toFixed(2)}x at K=${best.size} (${best.imagesPerSecond.toFixed(0)} vs ${one.imagesPerSecond.toFixed(0)} img/s, ${best.threads} thread(s))`,
        };
      }),
    );
  },
};

export const gridGoal: GoalDefinition = {
  id: "throughput.grid",
  measures: "a grid of small runs on one GPU: the best images/s of several at once over one at a time (goals.gridSpeedupMin)",
  judge(r) {
    const min = r.config.goals.gridSpeedupMin;
    const measured = r.grid.filter((x) => x.status === "measured") as Extract<GridResult, { status: "measured" }>[];
    const one = measured.find((x) => x.workers === 1);
    const best = measured.filter((x) => x.workers > 1).sort((a, b) => b.imagesPerSecond - a.imagesPerSecond)[0];
    const goal = `a grid of small runs on one GPU >= ${min}x one at a time`;
    const skipped = r.grid.find((x) => x.status === "skipped") as Extract<GridResult, { status: "skipped" }> | undefined;
    if (!one || !best) return [{ goal, status: NOT_MEASURED, measured: skipped?.reason ?? "no grid rows" }];
    const ratio = best.imagesPerSecond / one.imagesPerSecond;
    return [
      {
        goal,
        status: metIf(ratio >= min),
        measured: `${ratio.toFixed(2)}x with ${best.workers} runs (${best.imagesPerSecond.toFixed(0)} vs ${one.imagesPerSecond.toFixed(0)} img/s)`,
      },
    ];
  },
};

export const THROUGHPUT_GOALS: readonly GoalDefinition[] = [engineVsRawGoal, hostShareGoal, cudaGraphGoal, packGoal, gridGoal];

/** Every goal's rows, as [goal, status, measured], in registry order. */
export function throughputGoals(r: BenchRecord): string[][] {
  return THROUGHPUT_GOALS.flatMap((d) => d.judge(r)).map((x) => [x.goal, x.status, x.measured]);
}

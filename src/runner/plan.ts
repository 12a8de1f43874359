import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { TrainingConfig } from "../config/generated/training.ts";
import type { TrainThroughputRecord } from "../config/generated/train-throughput.ts";
import { validateConfig } from "../config/load.ts";
import { resolveAutoEngine } from "../engine/registry.ts";
import { probeTorch } from "../engine/torch/detect.ts";
import { buildModel } from "../models/registry.ts";
import { countMacs } from "../onnx/flops.ts";
import { getKind } from "./kinds/registry.ts";
import type { RunStore } from "./store.ts";
import type { Unit } from "./unit.ts";

export interface Plan {
  total: number;
  /** Ids of the units already complete in the store (the runner reuses them). */
  complete: string[];
  byKind: Record<string, { total: number; done: number }>;
  imagesToRun: number;
  /** The bench:train engine row the units would train on here (engineKey). */
  engine: string;
  estimate: { seconds: number; imagesPerSecond: number; source: string } | null;
}

/** bench:train reports this planner reads: this machine's, and a GPU machine's if one was committed. */
const REPORTS = ["train-throughput.json", "train-throughput-gpu.json"];

/**
 * The bench:train row an engine setting trains on here: torch-cuda, torch-cpu, onnx-cpu...
 * An ONNX provider of "auto" counts as the CPU EP: a GPU EP must pass its check at run
 * time first (the bundled WebGPU EP does not).
 */
export async function engineKey(engine: TrainingConfig["engine"]): Promise<string> {
  const name = engine.name === "auto" ? (await resolveAutoEngine({ engine: "auto", device: engine.device, python: engine.python })).engine : engine.name;
  if (name === "tfjs") return "tfjs";
  if (name === "onnx") return `onnx-${engine.provider === "auto" ? "cpu" : engine.provider}`;
  if (engine.device === "cpu") return "torch-cpu";
  if (engine.device.startsWith("cuda")) return "torch-cuda";
  const probe = await probeTorch(engine.python);
  return "found" in probe && probe.found.cuda ? "torch-cuda" : "torch-cpu";
}

/** The model a plan's units train, as far as its training cost goes. */
export interface PlannedModel {
  arch: string;
  width: number;
  /** [C, H, W] of its images; absent: 3x32x32. */
  inputShape?: number[];
}

/** Forward MACs per image: what a measured throughput is scaled by for a model bench:train did not time. */
export function macsPerImage(m: PlannedModel): number {
  const [c = 3, h = 32, w = 32] = m.inputShape ?? [];
  return countMacs(buildModel(m.arch, { width: m.width, inputShape: [c, h, w], numClasses: 10 })).dense;
}

/** The images a training config's model sees: the dataset's channels, padded to data.padTo. */
export function plannedModel(t: Pick<TrainingConfig, "model"> & { data?: Pick<TrainingConfig["data"], "dataset" | "padTo"> }): PlannedModel {
  const grey = t.data?.dataset.startsWith("fashion-mnist") ?? false;
  const size = Math.max(grey ? 28 : 32, t.data?.padTo ?? 32);
  return { arch: t.model.arch, width: t.model.width, inputShape: [grey ? 1 : 3, size, size] };
}

/**
 * Throughput measured by bench:train for the engine the units would use, if a report is
 * there: the case with the same architecture, width and image shape as the plan's
 * models; else the case closest in MACs per image, scaled by the ratio of MACs (small
 * models spend more per image than their MACs say, so scaling up from one errs long).
 * With GPUs placed by the runner, the grid row for jobs-per-GPU runs sharing a GPU,
 * times the GPUs.
 */
export function measuredThroughput(
  reportDir: string,
  model?: PlannedModel,
  engine = "onnx-cpu",
  gpus?: { count: number; jobsPerGpu: number },
): { imagesPerSecond: number; source: string } | null {
  for (const file of REPORTS) {
    const p = join(reportDir, file);
    if (!existsSync(p)) continue;
    let r: TrainThroughputRecord;
    try {
      r = validateConfig<TrainThroughputRecord>("train-throughput", JSON.parse(readFileSync(p, "utf8")), p);
    } catch (e) {
      // An estimate is advice: a damaged report costs the estimate, not the run.
      process.stderr.write(`notice: ${p} is not a bench:train record (${(e as Error).message.split("\n").slice(0, 2).join(" ")}); no estimate from it\n`);
      continue;
    }
    const m = r.throughput.filter((t) => t.status === "measured" && t.engine === engine && t.imagesPerSecond);
    if (!m.length) continue;
    const caseOf = (name: string): PlannedModel => {
      const c = r.config.throughput.cases.find((x) => x.name === name);
      return c ? { arch: c.arch, width: c.width, ...(c.inputShape ? { inputShape: c.inputShape } : {}) } : { arch: "?", width: 0 };
    };
    const shape = (x: PlannedModel) => (x.inputShape ?? [3, 32, 32]).join("x");
    const same = model ? m.filter((t) => ((c) => c.arch === model.arch && c.width === model.width && shape(c) === shape(model))(caseOf(t.case))) : [];
    const scaled = (t: (typeof m)[number]) => {
      if (!model || same.length) return { ...t, scale: 1 };
      const c = caseOf(t.case);
      try {
        return { ...t, scale: macsPerImage(c) / macsPerImage(model) };
      } catch {
        return { ...t, scale: Number.NaN };
      }
    };
    const candidates = (same.length ? same : m).map(scaled).filter((t) => Number.isFinite(t.scale));
    if (!candidates.length) continue;
    // Without this model: the case nearest in MACs (least scaling); with it: its slowest row.
    const pick = candidates.reduce((a, b) =>
      same.length || !model ? (a.imagesPerSecond! < b.imagesPerSecond! ? a : b) : Math.abs(Math.log(a.scale)) <= Math.abs(Math.log(b.scale)) ? a : b,
    );
    const note = `${p}: ${pick.case}, ${pick.engine}, ${r.context.date.slice(0, 10)}${
      same.length || !model ? "" : `; no measurement of ${model.arch} w${model.width} ${shape(model)}: scaled by MACs per image (x${pick.scale.toPrecision(3)})`
    }`;
    if (engine === "torch-cuda" && gpus && gpus.count > 0) {
      const g = r.grid?.find((x) => x.case === pick.case && x.workers === gpus.jobsPerGpu && x.status === "measured" && x.imagesPerSecond);
      const perGpu = (g?.imagesPerSecond ?? pick.imagesPerSecond!) * pick.scale;
      return {
        imagesPerSecond: perGpu * gpus.count,
        source: `${note}; ${g ? `${gpus.jobsPerGpu} runs sharing a GPU` : `one run per GPU (no grid row for ${gpus.jobsPerGpu} runs)`} x ${gpus.count} GPU(s)`,
      };
    }
    return { imagesPerSecond: pick.imagesPerSecond! * pick.scale, source: note };
  }
  return null;
}

export async function makePlan(
  units: Unit<unknown>[],
  store: RunStore,
  o: { jobs: number; reportDir: string; gpus?: { count: number; jobsPerGpu: number } },
): Promise<Plan> {
  const byKind: Plan["byKind"] = {};
  const complete: string[] = [];
  let images = 0;
  for (const u of units) {
    const k = (byKind[u.kind] ??= { total: 0, done: 0 });
    k.total++;
    if (store.isDone(u.id)) {
      k.done++;
      complete.push(u.id);
    } else {
      images += (await getKind(u.kind)).estimateImages(u.config as never);
    }
  }
  let training: Pick<TrainingConfig, "model" | "engine" | "data"> | undefined;
  for (const u of units) training ??= (await getKind(u.kind)).training?.(u.config as never);
  const engine = training ? await engineKey(training.engine) : "onnx-cpu";
  const t = measuredThroughput(o.reportDir, training ? plannedModel(training) : undefined, engine, o.gpus);
  // Parallel jobs share the cores, so the pool's throughput is about one full-machine job's.
  return {
    total: units.length,
    complete,
    byKind,
    imagesToRun: images,
    engine,
    estimate: t ? { seconds: images / t.imagesPerSecond, imagesPerSecond: t.imagesPerSecond, source: t.source } : null,
  };
}

export function formatDuration(s: number): string {
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} days`;
}

export function formatPlan(p: Plan, o: { executor: string; jobs: number; runsDir: string }): string {
  const kinds = Object.entries(p.byKind)
    .map(([k, v]) => `${k}: ${v.total} (${v.done} complete)`)
    .join(", ");
  const lines = [
    `plan: ${p.total} units (${kinds}); ${p.complete.length} already complete in ${o.runsDir}, ${p.total - p.complete.length} to run on the ${o.executor} executor${o.executor === "local" ? ` with ${o.jobs} job(s)` : ""}`,
    p.estimate
      ? `estimated compute: ${p.imagesToRun.toLocaleString("en-US")} training images, about ${formatDuration(p.estimate.seconds)} of this machine at ${p.estimate.imagesPerSecond.toFixed(0)} img/s (${p.estimate.source})`
      : `estimated compute: ${p.imagesToRun.toLocaleString("en-US")} training images; no throughput measurement of ${p.engine} found (run \`bun run bench:train\` to get one)`,
  ];
  return lines.join("\n");
}

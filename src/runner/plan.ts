import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { TrainingConfig } from "../config/generated/training.ts";
import type { TrainThroughputRecord } from "../config/generated/train-throughput.ts";
import { validateConfig } from "../config/load.ts";
import { resolveAutoEngine } from "../engine/registry.ts";
import { probeTorch } from "../engine/torch/detect.ts";
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

/**
 * Throughput measured by bench:train for the engine the units would use, if a report is
 * there: the case with the same architecture and width as the plan's models, else the
 * slowest case measured (an estimate that errs long). With GPUs placed by the runner,
 * the grid row for jobs-per-GPU runs sharing a GPU, times the GPUs.
 */
export function measuredThroughput(
  reportDir: string,
  model?: { arch: string; width: number },
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
    const caseOf = (name: string) => r.config.throughput.cases.find((c) => c.name === name);
    const same = m.filter((t) => model && caseOf(t.case)?.arch === model.arch && caseOf(t.case)?.width === model.width);
    const pick = (same.length ? same : m).reduce((a, b) => (a.imagesPerSecond! < b.imagesPerSecond! ? a : b));
    const note = `${p}: ${pick.case}, ${pick.engine}, ${r.context.date.slice(0, 10)}${same.length ? "" : "; no measurement of this model, so the slowest case"}`;
    if (engine === "torch-cuda" && gpus && gpus.count > 0) {
      const g = r.grid?.find((x) => x.case === pick.case && x.workers === gpus.jobsPerGpu && x.status === "measured" && x.imagesPerSecond);
      const perGpu = g?.imagesPerSecond ?? pick.imagesPerSecond!;
      return {
        imagesPerSecond: perGpu * gpus.count,
        source: `${note}; ${g ? `${gpus.jobsPerGpu} runs sharing a GPU` : `one run per GPU (no grid row for ${gpus.jobsPerGpu} runs)`} x ${gpus.count} GPU(s)`,
      };
    }
    return { imagesPerSecond: pick.imagesPerSecond!, source: note };
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
  let training: Pick<TrainingConfig, "model" | "engine"> | undefined;
  for (const u of units) training ??= (await getKind(u.kind)).training?.(u.config as never);
  const engine = training ? await engineKey(training.engine) : "onnx-cpu";
  const t = measuredThroughput(o.reportDir, training?.model, engine, o.gpus);
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

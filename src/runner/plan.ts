import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { TrainingConfig } from "../config/generated/training.ts";
import type { TrainThroughputRecord } from "../config/generated/train-throughput.ts";
import { ConfigError, validateConfig } from "../config/load.ts";
import { packFormulation, resolveAutoEngine } from "../engine/registry.ts";
import { probeTorch } from "../engine/torch/detect.ts";
import type { EngineName } from "../engine/types.ts";
import { buildModel, resolveArch } from "../models/registry.ts";
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
  /** With --executor slurm and an estimate: the longest unit still to run against the task time limit. */
  slurm?: SlurmTimeCheck | null;
}

/** A Slurm plan's array tasks: --slurm-time, --slurm-gpus, --slurm-cpus and the units per task (jobsPerGpu). */
export interface SlurmTasks {
  time: string;
  gpus?: number;
  cpusPerTask: number;
  unitsPerTask: number;
}

/** The longest unit of a Slurm plan against --slurm-time. */
export interface SlurmTimeCheck {
  /** "label (id)" of the unit with the most training images still to run. */
  unit: string;
  images: number;
  seconds: number;
  /** Per unit, in its array task (sharing it with jobsPerGpu - 1 others). */
  imagesPerSecond: number;
  source: string;
  /** --slurm-time as given, and in seconds (Infinity: no limit). */
  limit: string;
  limitSeconds: number;
  /** Why the estimate may be far off on the compute nodes; absent: measured for this model, engine and GPU sharing. */
  rough?: string;
}

/** bench:train reports this planner reads: this machine's, and a GPU machine's if one was committed. */
const REPORTS = ["train-throughput.json", "train-throughput-gpu.json"];
const REPO_REPORTS = resolve(import.meta.dir, "../../reports");

/**
 * The bench:train records the planner reads: the --throughput-file when given; else each of
 * REPORTS from the report directory where it is there, else from the repository's reports/.
 */
export function throughputFiles(reportDir: string, throughputFile?: string): string[] {
  if (throughputFile) return [throughputFile];
  return REPORTS.map((f) => (existsSync(join(reportDir, f)) ? join(reportDir, f) : join(REPO_REPORTS, f))).filter((p) => existsSync(p));
}

/** A --throughput-file: a bench:train record, or a ConfigError naming the file and what is wrong. */
export function readThroughputFile(p: string): TrainThroughputRecord {
  if (!existsSync(p)) throw new ConfigError(`--throughput-file ${p}: no such file (give a train-throughput.json written by \`bun run bench:train\`)`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(p, "utf8"));
  } catch (e) {
    throw new ConfigError(
      `--throughput-file ${p}: not JSON (${(e as Error).message.split("\n")[0]}); give a train-throughput.json written by \`bun run bench:train\``,
    );
  }
  try {
    return validateConfig<TrainThroughputRecord>("train-throughput", json, p);
  } catch (e) {
    throw new ConfigError(`--throughput-file ${p}: not a bench:train record: ${(e as Error).message.split("\n").slice(0, 3).join(" ")}`);
  }
}

/**
 * A Slurm time limit in seconds: minutes, minutes:seconds, hours:minutes:seconds,
 * days-hours, days-hours:minutes or days-hours:minutes:seconds (sbatch --time);
 * Infinity for no limit (0, UNLIMITED, INFINITE); null when it is none of these.
 */
export function slurmTimeSeconds(t: string): number | null {
  const v = t.trim();
  if (/^(unlimited|infinite|0+)$/i.test(v)) return Number.POSITIVE_INFINITY;
  const m = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(v);
  if (!m) return null;
  const [, d, a, b, c] = m;
  const n = (x: string | undefined) => (x === undefined ? 0 : Number(x));
  // With days: d-hh[:mm[:ss]]; without: mm, mm:ss or hh:mm:ss.
  if (d !== undefined) return n(d) * 86400 + n(a) * 3600 + n(b) * 60 + n(c);
  if (c !== undefined) return n(a) * 3600 + n(b) * 60 + n(c);
  return n(a) * 60 + n(b);
}

/** Seconds as a Slurm time limit: hh:mm:ss, or d-hh:mm:ss from a day on. */
export function formatSlurmTime(seconds: number): string {
  const s = Math.ceil(seconds);
  const d = Math.floor(s / 86400);
  const pad = (x: number) => String(x).padStart(2, "0");
  const hms = `${pad(Math.floor((s % 86400) / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
  return d ? `${d}-${hms}` : hms;
}

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
  // The name with the depth it trains at (preresnet20 at model.depth 56 is preresnet56), so no measurement of another depth stands in for it.
  return { arch: resolveArch(t.model.arch, t.model.depth).name, width: t.model.width, inputShape: [grey ? 1 : 3, size, size] };
}

/** The torch engine settings a bench:train row was measured with (absent on other engines' rows and on records before them). */
export interface RowSettings {
  precision: string;
  cudaGraphs: boolean;
  channelsLast: boolean;
}

/** What a unit's engine settings come to on the device of `key` (torch-cpu has no TF32, graphs or channels_last); undefined off the torch engine. */
export function rowSettings(engine: TrainingConfig["engine"], key: string): RowSettings | undefined {
  if (key === "torch-cuda") return { precision: engine.precision, cudaGraphs: engine.cudaGraphs, channelsLast: engine.channelsLast };
  if (key === "torch-cpu") return { precision: engine.precision === "tf32" ? "fp32" : engine.precision, cudaGraphs: false, channelsLast: false };
  return undefined;
}

function matchesSettings(row: Record<string, unknown>, s: RowSettings): boolean {
  return row.precision === s.precision && (row.cudaGraphs ?? false) === s.cudaGraphs && (row.channelsLast ?? false) === s.channelsLast;
}

const records = new Map<string, { mtimeMs: number; record: TrainThroughputRecord | Error }>();

/** A bench:train record read and checked once per version of its file (the planner and runner.pack=auto look it up several times), or why it is not one. */
function throughputRecord(p: string): TrainThroughputRecord | Error {
  const mtimeMs = statSync(p).mtimeMs;
  const hit = records.get(p);
  if (hit && hit.mtimeMs === mtimeMs) return hit.record;
  let record: TrainThroughputRecord | Error;
  try {
    record = validateConfig<TrainThroughputRecord>("train-throughput", JSON.parse(readFileSync(p, "utf8")), p);
  } catch (e) {
    record = e as Error;
  }
  records.set(p, { mtimeMs, record });
  return record;
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
  reportDirOrFiles: string | string[],
  model?: PlannedModel,
  engine = "onnx-cpu",
  gpus?: { count: number; jobsPerGpu: number },
  settings?: RowSettings,
): { imagesPerSecond: number; source: string; rough?: string } | null {
  const files = typeof reportDirOrFiles === "string" ? REPORTS.map((f) => join(reportDirOrFiles, f)) : reportDirOrFiles;
  for (const p of files) {
    if (!existsSync(p)) continue;
    const r = throughputRecord(p);
    if (r instanceof Error) {
      // An estimate is advice: a damaged report costs the estimate, not the run.
      process.stderr.write(`notice: ${p} is not a bench:train record (${r.message.split("\n").slice(0, 2).join(" ")}); no estimate from it\n`);
      continue;
    }
    const all = r.throughput.filter((t) => t.status === "measured" && t.engine === engine && t.imagesPerSecond);
    // torch rows come in variants of the engine's settings: the units' own, where measured.
    const matching = settings ? all.filter((t) => matchesSettings(t, settings)) : [];
    const m = matching.length ? matching : all;
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
    const rough = same.length || !model ? undefined : `${model.arch} w${model.width} ${shape(model)} was not measured: scaled by MACs per image`;
    const note = `${p}: ${pick.case}, ${pick.engine}, ${r.context.date.slice(0, 10)}${
      same.length || !model ? "" : `; no measurement of ${model.arch} w${model.width} ${shape(model)}: scaled by MACs per image (x${pick.scale.toPrecision(3)})`
    }`;
    if (engine === "torch-cuda" && gpus && gpus.count > 0) {
      const g = r.grid?.find((x) => x.case === pick.case && x.workers === gpus.jobsPerGpu && x.status === "measured" && x.imagesPerSecond);
      const perGpu = (g?.imagesPerSecond ?? pick.imagesPerSecond!) * pick.scale;
      const noGrid = !g && gpus.jobsPerGpu > 1 ? `no grid row for ${gpus.jobsPerGpu} runs sharing a GPU` : undefined;
      return {
        imagesPerSecond: perGpu * gpus.count,
        source: `${note}; ${g ? `${gpus.jobsPerGpu} runs sharing a GPU` : `one run per GPU (no grid row for ${gpus.jobsPerGpu} runs)`} x ${gpus.count} GPU(s)`,
        ...(rough || noGrid ? { rough: [rough, noGrid].filter(Boolean).join("; ") } : {}),
      };
    }
    return { imagesPerSecond: pick.imagesPerSecond! * pick.scale, source: note, ...(rough ? { rough } : {}) };
  }
  return null;
}

/**
 * bench:train's packed rows (record.packs) for this model, batch, engine and pack
 * formulation, from the first throughput file that has any: images/s of all members
 * together per pack size.
 */
export function packedThroughput(
  files: string[],
  model: PlannedModel,
  batchSize: number,
  engine: string,
  formulation: string,
): { size: number; imagesPerSecond: number; source: string }[] {
  for (const p of files) {
    if (!existsSync(p)) continue;
    const r = throughputRecord(p);
    if (r instanceof Error) continue;
    const shape = (x: number[] | undefined) => (x ?? [3, 32, 32]).join("x");
    const cases = new Set(
      r.config.throughput.cases
        .filter((c) => c.arch === model.arch && c.width === model.width && c.batchSize === batchSize && shape(c.inputShape) === shape(model.inputShape))
        .map((c) => c.name),
    );
    const rows = (r.packs ?? []).filter(
      (x) => x.status === "measured" && cases.has(x.case) && x.engine === engine && x.formulation === formulation && x.imagesPerSecond,
    );
    if (rows.length)
      return rows.map((x) => ({ size: x.size, imagesPerSecond: x.imagesPerSecond!, source: `${p}: packed rows of ${x.case}, ${r.context.date.slice(0, 10)}` }));
  }
  return [];
}

/**
 * packedThroughput for a training config: data.dataset=auto trains on CIFAR-10 where it
 * is cached, else on the embedded Fashion-MNIST, so rows of either shape count (the
 * first that has any); `model` is the shape the rows are of.
 */
export function packedRowsFor(
  files: string[],
  training: Pick<TrainingConfig, "model" | "data" | "optim">,
  engine: string,
  formulation: string,
): { model: PlannedModel; rows: ReturnType<typeof packedThroughput> } {
  const shapes =
    training.data.dataset === "auto"
      ? [plannedModel(training), plannedModel({ ...training, data: { ...training.data, dataset: "fashion-mnist-embedded" } })]
      : [plannedModel(training)];
  for (const model of shapes) {
    const rows = packedThroughput(files, model, training.optim.batchSize, engine, formulation);
    if (rows.length) return { model, rows };
  }
  return { model: shapes[0]!, rows: [] };
}

export async function makePlan(
  units: Unit<unknown>[],
  store: RunStore,
  o: {
    jobs: number;
    reportDir: string;
    gpus?: { count: number; jobsPerGpu: number };
    /** A dry run's plan: a damaged result is reported, never set aside (the store is left as it is). */
    readOnly?: boolean;
    /** --throughput-file: the bench:train record to read (default: see throughputFiles). */
    throughputFile?: string;
    /** --executor slurm: each array task's resources and time limit, to check the longest unit against. */
    slurm?: SlurmTasks;
    /** Units per pack (runner.pack, resolved): above 1, the estimate reads the packed rows at that size where measured. */
    pack?: number;
  },
): Promise<Plan> {
  if (o.throughputFile) readThroughputFile(o.throughputFile);
  const files = throughputFiles(o.reportDir, o.throughputFile);
  const byKind: Plan["byKind"] = {};
  const complete: string[] = [];
  let images = 0;
  let longest: { unit: Unit<unknown>; images: number } | undefined;
  for (const u of units) {
    const k = (byKind[u.kind] ??= { total: 0, done: 0 });
    k.total++;
    if (store.isDone(u.id, { readOnly: o.readOnly })) {
      k.done++;
      complete.push(u.id);
    } else {
      const n = (await getKind(u.kind)).estimateImages(u.config as never);
      images += n;
      if (!longest || n > longest.images) longest = { unit: u, images: n };
    }
  }
  let training: Pick<TrainingConfig, "model" | "engine" | "data" | "optim"> | undefined;
  for (const u of units) training ??= (await getKind(u.kind)).training?.(u.config as never);
  const engine = training ? await engineKey(training.engine) : "onnx-cpu";
  const model = training ? plannedModel(training) : undefined;
  const settings = training ? rowSettings(training.engine, engine) : undefined;
  let t = measuredThroughput(files, model, engine, o.gpus, settings);
  // Packs of K train K units per worker at the packed row's rate (all members' images together).
  const pack = o.pack ?? 1;
  if (pack > 1 && training && model) {
    const formulation = packFormulation(engine.split("-")[0] as EngineName, training.engine.packFormulation ?? "auto");
    const row = packedRowsFor(files, training, engine, formulation).rows.find((r) => r.size === pack);
    if (row) {
      const gpus = engine === "torch-cuda" && o.gpus?.count ? o.gpus.count : 1;
      t = { imagesPerSecond: row.imagesPerSecond * gpus, source: `${row.source}: packs of ${pack} (${formulation})${gpus > 1 ? ` x ${gpus} GPU(s)` : ""}` };
    }
  }
  // Parallel jobs share the cores, so the pool's throughput is about one full-machine job's.
  return {
    total: units.length,
    complete,
    byKind,
    imagesToRun: images,
    engine,
    estimate: t ? { seconds: images / t.imagesPerSecond, imagesPerSecond: t.imagesPerSecond, source: t.source } : null,
    ...(o.slurm ? { slurm: longest ? slurmTimeCheck(longest, files, model, engine, o.slurm, settings) : null } : {}),
  };
}

/**
 * The longest unit's time in one array task. On GPUs (torch-cuda), unit j of a task gets
 * GPU j mod n, so ceil(k/n) units share one: the grid row for that many runs, divided
 * among them. Elsewhere the k units of a task split its CPUs: the measured rate / k,
 * rough (measured on another machine's cores than a task's --slurm-cpus).
 */
function slurmTimeCheck(
  longest: { unit: Unit<unknown>; images: number },
  files: string[],
  model: PlannedModel | undefined,
  engine: string,
  slurm: SlurmTasks,
  settings?: RowSettings,
): SlurmTimeCheck | null {
  const limitSeconds = slurmTimeSeconds(slurm.time);
  if (limitSeconds === null) throw new ConfigError(`--slurm-time: expected minutes, mm:ss, hh:mm:ss, d-hh, d-hh:mm or d-hh:mm:ss, given "${slurm.time}"`);
  const k = Math.max(1, slurm.unitsPerTask);
  const gpus = slurm.gpus ?? 0;
  const onGpu = engine === "torch-cuda" && gpus > 0;
  const perGpu = Math.ceil(k / Math.max(1, gpus));
  const t = measuredThroughput(files, model, engine, onGpu ? { count: 1, jobsPerGpu: perGpu } : undefined, settings);
  if (!t) return null;
  const imagesPerSecond = t.imagesPerSecond / (onGpu ? perGpu : k);
  const rough = [
    t.rough,
    onGpu
      ? undefined
      : engine === "torch-cuda"
        ? "the units would train on CUDA here, but the tasks ask for no GPU (--slurm-gpus)"
        : `${engine} was measured on that machine's cores, not on a compute node's --slurm-cpus ${slurm.cpusPerTask}${gpus > 0 ? " (and the tasks have GPUs: the engine here is not what they would pick)" : ""}`,
  ].filter(Boolean);
  const u = longest.unit;
  return {
    unit: u.label ? `${u.label} (${u.id})` : u.id,
    images: longest.images,
    seconds: longest.images / imagesPerSecond,
    imagesPerSecond,
    source: t.source,
    limit: slurm.time,
    limitSeconds,
    ...(rough.length ? { rough: rough.join("; ") } : {}),
  };
}

/** The plan's problem with --slurm-time, if its longest unit would outlast it: an error, or a warning when the estimate is rough. */
export function slurmTimeProblem(p: Plan): { fatal: boolean; message: string } | null {
  const c = p.slurm;
  if (!c || c.seconds <= c.limitSeconds) return null;
  const suggest = formatSlurmTime(Math.ceil((c.seconds * 1.25) / 3600) * 3600);
  const est = `${formatDuration(c.seconds)} (${c.images.toLocaleString("en-US")} training images at ${c.imagesPerSecond.toFixed(0)} img/s per unit; ${c.source})`;
  const fix = `raise it with --slurm-time ${suggest} (or more), or point --throughput-file at a bench:train record measured on the compute nodes`;
  return c.rough
    ? {
        fatal: false,
        message: `WARNING: unit ${c.unit} is estimated at about ${est}, longer than --slurm-time ${c.limit}; the estimate is rough (${c.rough}), so the run goes on, but if it is right Slurm kills the unit's task at the limit on every attempt: ${fix}`,
      }
    : {
        fatal: true,
        message: `--slurm-time ${c.limit} is shorter than the estimated time of unit ${c.unit}: about ${est}; Slurm would kill its task at the limit on every attempt: ${fix}`,
      };
}

/** Throws the plan's --slurm-time error (a ConfigError); a rough estimate's warning is in formatPlan's lines. */
export function checkSlurmTime(p: Plan): void {
  const problem = slurmTimeProblem(p);
  if (problem?.fatal) throw new ConfigError(problem.message);
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
  if (p.slurm)
    lines.push(
      `slurm: longest unit ${p.slurm.unit}: about ${formatDuration(p.slurm.seconds)} in its array task (${p.slurm.imagesPerSecond.toFixed(0)} img/s per unit${p.slurm.rough ? `; rough: ${p.slurm.rough}` : ""}); --slurm-time ${p.slurm.limit}`,
    );
  const problem = slurmTimeProblem(p);
  if (problem && !problem.fatal) lines.push(problem.message);
  return lines.join("\n");
}

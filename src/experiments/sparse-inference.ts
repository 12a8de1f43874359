import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import type { ModelsExportConfig } from "../config/generated/models-export.ts";
import type { SparseInferenceConfig } from "../config/generated/sparse-inference.ts";
import { ConfigError } from "../config/load.ts";
import { loadPresetConfig } from "../config/presets.ts";
import { notice } from "../util/notice.ts";
import type { RunnerConfig } from "../config/generated/runner.ts";
import { nchwcBlockSize } from "../engine/onnx/ops/nchwc.ts";
import { profileSession } from "../engine/onnx/profile.ts";
import { randomImages } from "../onnx/export.ts";
import { paddedMacs } from "../onnx/flops.ts";
import { createSession, type ProviderChoice } from "../engine/onnx/providers.ts";
import { checkAccuracy, exportBenchmarkModels, exportUnits, readManifest, type Manifest, type ManifestModel } from "./benchmark-models.ts";
import { quantile, summarise, timeSession } from "../onnx/session-timing.ts";
import { Presets, SingleBar } from "cli-progress";
import { withSparseInitializers } from "../onnx/sparse-initializers.ts";
import { gitCommit, runContext } from "../util/provenance.ts";
import { renderSparseInference, type InferenceResult, type SparseInferenceData, type Storage } from "../report/sparse-inference-report.ts";
import { runUnits } from "../runner/run-units.ts";
import { loadData } from "../train/setup.ts";
import { inferenceCsv } from "../report/csv.ts";
import { writeFileAtomic } from "../util/atomic-write.ts";
import type { Dataset } from "../data/types.ts";

function randomInput(shape: number[], batch: number): ort.Tensor {
  const dims = [batch, ...shape];
  return new ort.Tensor("float32", randomImages(dims, batch, "inference-input"), dims);
}

interface Opened {
  base: InferenceResult;
  session?: ort.InferenceSession;
  provider: string;
  samples: number[][][];
}

/** Opens a session for one file and checks, before any timing, that it classifies as the export did. */
async function open(
  m: ManifestModel,
  storage: Storage,
  bytes: Uint8Array,
  ctx: { data: Dataset; threads: number; provider: ProviderChoice; batches: number; paddedSpeedup?: (m: ManifestModel) => number },
): Promise<Opened> {
  const base: InferenceResult = {
    model: m.name,
    kind: m.kind,
    storage,
    nominalDensity: m.nominalDensity,
    channelMultiple: m.channelMultiple ?? 1,
    convWeightDensity: m.convWeightDensity,
    theoreticalSpeedup: m.macs.dense / m.macs.remaining,
    ...(ctx.paddedSpeedup ? { paddedSpeedup: ctx.paddedSpeedup(m) } : {}),
    testAccuracy: m.testAccuracy,
    check: null,
    bytes: bytes.length,
    status: "failed",
  };
  let created;
  try {
    created = await createSession(bytes, ctx.provider, { threads: ctx.threads, log: notice, purpose: "inference" });
  } catch (e) {
    notice(`${m.file} (${storage}): session failed to start: ${(e as Error).message.split("\n")[0]}`);
    return { base: { ...base, reason: (e as Error).message.split("\n")[0] }, provider: "none", samples: [] };
  }
  const { session, provider } = created;
  const check = await checkAccuracy(session, ctx.data, m.check.images);
  // GPU kernels may round differently: one flipped prediction is tolerated there, none on CPU.
  const slack = provider === "cpu" ? 0 : 1;
  if (Math.abs(check.correct - m.check.correct) > slack) {
    await session.release();
    throw new Error(
      `${m.file} (${storage}) on ${provider}: ${check.correct}/${check.images} check images correct, the export recorded ${m.check.correct}; refusing to time a model that computes something else`,
    );
  }
  return { base: { ...base, check: { ...check, expected: m.check.correct } }, session, provider, samples: Array.from({ length: ctx.batches }, () => []) };
}

export interface SparseInferenceOptions {
  preset: string;
  /** path=value settings over the preset. */
  overrides: string[];
  configFiles?: string[];
  /** Dataset directory: for the accuracy check before timing and for models:export when it runs first. */
  dataDir?: string;
  runner: RunnerConfig;
  /** Where models:export wrote (or will write) the preset's models. */
  modelsDir: string;
  reportDir: string;
  dryRun?: boolean;
}

const median = (xs: number[]) =>
  quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );

/** --dry-run: where the models come from and how much timing the settings ask for. */
async function printPlan(cfg: SparseInferenceConfig, exportCfg: ModelsExportConfig, manifest: Manifest | null, opts: SparseInferenceOptions, threads: number) {
  const modelsDir = join(opts.modelsDir, opts.preset);
  if (manifest) console.log(`plan: models from ${modelsDir} (${manifest.models.length} files, exported ${manifest.context.date})`);
  else {
    console.log(`plan: ${modelsDir} has no manifest; models:export --preset ${opts.preset} runs first:`);
    const { dense, pruned } = exportUnits(exportCfg);
    await runUnits([dense, ...pruned], opts.runner, { dryRun: true, reportDir: opts.reportDir });
  }
  const n =
    (manifest?.models.length ?? 1 + exportCfg.unstructuredDensities.length + exportCfg.structuredDensities.length) +
    (cfg.sparseInitializers ? exportCfg.unstructuredDensities.length : 0);
  const chunks = cfg.timing.rounds * (1 + cfg.throughputBatches.length) * (2 * n - 1);
  console.log(
    `plan: ${n} model files x ${1 + cfg.throughputBatches.length} batch sizes x ${cfg.timing.rounds} rounds, the dense model timed between every two: ${chunks} timed chunks, at least ${Math.ceil((chunks * (cfg.timing.warmupMs + cfg.timing.minTimeMs)) / 60_000)} min, provider ${cfg.provider}, ${threads} threads`,
  );
}

/**
 * Every file the manifest lists, checked against its SHA-256 and opened with its
 * accuracy checked; unstructured models also as a copy with sparse initializers.
 */
async function openModels(
  manifest: Manifest,
  opts: SparseInferenceOptions,
  sparseInitializers: boolean,
  ctx: Parameters<typeof open>[3],
): Promise<{ opened: Opened[]; fileBytes: Map<string, Uint8Array> }> {
  const modelsDir = join(opts.modelsDir, opts.preset);
  const rerun = `re-run \`bun run models:export --preset ${opts.preset} --models-dir ${opts.modelsDir}\``;
  const opened: Opened[] = [];
  const fileBytes = new Map<string, Uint8Array>();
  for (const m of manifest.models) {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(join(modelsDir, m.file)));
      fileBytes.set(m.name, bytes);
    } catch {
      throw new ConfigError(`${join(modelsDir, m.file)} is listed in the manifest but missing: ${rerun}`);
    }
    if (createHash("sha256").update(bytes).digest("hex") !== m.sha256)
      throw new ConfigError(`${join(modelsDir, m.file)} is not the file its manifest describes (SHA-256 differs): ${rerun}`);
    opened.push(await open(m, "dense initializers", bytes, ctx));
    if (sparseInitializers && m.kind === "unstructured") opened.push(await open(m, "sparse initializers", withSparseInitializers(bytes, 0.5).bytes, ctx));
  }
  return { opened, fileBytes };
}

/**
 * Times every opened model at every batch size for `rounds` rounds, the dense model
 * between every two: each model's speedup is taken against the mean of the dense
 * timings just before and after it, so drift of the machine over seconds or minutes
 * cancels out. `denseVsDense` applies the same estimator to the dense model against itself.
 */
async function timeInterleaved(opened: Opened[], inputs: Record<string, ort.Tensor>[], batches: number[], timing: SparseInferenceConfig["timing"]) {
  const live = opened.filter((o) => o.session);
  const reference = live.find((o) => o.base.kind === "dense" && o.base.storage === "dense initializers");
  const others = live.filter((o) => o !== reference);
  // Per model and batch size, one speedup per round.
  const paired = new Map(others.map((o) => [o, batches.map(() => [] as number[])]));
  const denseVsDense: number[] = [];
  const total = timing.rounds * batches.length * (reference ? 2 * others.length + 1 : others.length);
  const bar = new SingleBar(
    { format: "timing |{bar}| {value}/{total} | ETA {eta_formatted} | {text}", hideCursor: true, etaBuffer: 30, stream: process.stderr },
    Presets.shades_classic,
  );
  bar.start(total, 0, { text: "" });
  const time = async (o: Opened, i: number, round: number) => {
    bar.increment(0, {
      text: `round ${round + 1}/${timing.rounds}: ${o.base.model}${o.base.storage === "sparse initializers" ? " (sparse init)" : ""} batch ${batches[i]} on ${o.provider}`,
    });
    const s = await timeSession(o.session!, inputs[i]!, timing);
    o.samples[i]!.push(s);
    bar.increment(1);
    return median(s);
  };
  for (let round = 0; round < timing.rounds; round++) {
    for (let i = 0; i < batches.length; i++) {
      let before = reference ? await time(reference, i, round) : NaN;
      let previous = NaN;
      for (const o of others) {
        const t = await time(o, i, round);
        if (!reference) continue;
        const after = await time(reference, i, round);
        paired.get(o)![i]!.push((before + after) / 2 / t);
        if (!Number.isNaN(previous)) denseVsDense.push((previous + after) / 2 / before);
        previous = before;
        before = after;
      }
    }
  }
  bar.stop();
  return { paired: reference ? paired : undefined, denseVsDense };
}

/** One result per opened model (sessions are released here): its latency, throughput and paired speedups. */
async function collectResults(opened: Opened[], paired: Map<Opened, number[][]> | undefined, batches: number[], outlierMads: number) {
  const results: InferenceResult[] = [];
  const providers = new Set<string>();
  for (const o of opened) {
    providers.add(o.provider);
    await o.session?.release();
    if (!o.session) {
      results.push(o.base);
      continue;
    }
    const t = o.samples.map((rounds, i) => summarise(rounds, batches[i]!, outlierMads));
    const p = paired?.get(o);
    results.push({
      ...o.base,
      status: "measured",
      latency: t[0],
      throughput: t.slice(1),
      ...(p ? { pairedSpeedup: p.map((r, i) => ({ batch: batches[i]!, perRound: r, median: median(r) })) } : {}),
    });
  }
  providers.delete("none");
  return { results, provider: [...providers].join("+") || "none" };
}

/** Per-op kernel time of the dense and the sparsest structured model (CPU EP): where the structured speedup falls short. */
async function profileModels(
  manifest: Manifest,
  fileBytes: Map<string, Uint8Array>,
  input: (batch: number) => Record<string, ort.Tensor>,
  batch: number,
  runs: number,
  threads: number,
) {
  const profiles: SparseInferenceData["profiles"] = [];
  const dense = manifest.models.find((m) => m.kind === "dense");
  const sparsestStructured = manifest.models.filter((m) => m.kind === "structured").sort((a, b) => a.macs.remaining - b.macs.remaining)[0];
  if (runs <= 0 || !dense || !sparsestStructured) return profiles;
  for (const m of [dense, sparsestStructured]) {
    notice(`profile: ${m.name} at batch ${batch}, ${runs} runs (CPU EP)`);
    profiles.push({ model: m.name, batch, profile: await profileSession(fileBytes.get(m.name)!, input(batch), { threads, steps: runs }) });
  }
  return profiles;
}

/**
 * What pruned models gain at inference on onnxruntime-node: dense vs unstructured vs
 * structured (compacted), batch-1 latency percentiles and batched throughput, measured
 * beside the FLOP-count speedup. Runs models:export first when the models are missing.
 */
export async function runSparseInference(opts: SparseInferenceOptions): Promise<void> {
  const cfg = loadPresetConfig<SparseInferenceConfig>("sparse-inference", "sparse-inference", opts.preset, opts.overrides, opts.configFiles);
  const threads = cfg.threads ?? availableParallelism();
  const modelsDir = join(opts.modelsDir, opts.preset);
  const exportCfg = loadPresetConfig<ModelsExportConfig>(
    "models-export",
    "models-export",
    opts.preset,
    opts.dataDir ? [`training.data.dataDir=${opts.dataDir}`] : [],
  );
  let manifest = readManifest(modelsDir);
  if (opts.dryRun) return printPlan(cfg, exportCfg, manifest, opts, threads);
  if (!manifest) {
    notice(`no models in ${modelsDir}: running models:export --preset ${opts.preset} first`);
    manifest = await exportBenchmarkModels(exportCfg, opts.runner, {
      outDir: modelsDir,
      preset: opts.preset,
      reportDir: opts.reportDir,
      context: runContext(),
      log: notice,
    });
  }
  const data = await loadData(opts.dataDir ? { ...manifest.training, data: { ...manifest.training.data, dataDir: opts.dataDir } } : manifest.training, notice);
  const context = runContext();
  const batches = [cfg.latencyBatch, ...cfg.throughputBatches];
  // What ORT's CPU EP really computes: channels padded to its NCHWc block (the manifest of an older export has no layer sizes).
  const nchwcBlock = await nchwcBlockSize();
  const denseModel = manifest.models.find((m) => m.kind === "dense");
  const paddedSpeedup =
    denseModel?.macLayers && nchwcBlock > 1
      ? (m: ManifestModel) => paddedMacs(denseModel.macLayers, nchwcBlock) / paddedMacs(m.macLayers, nchwcBlock)
      : undefined;
  const ctx = { data, threads, provider: cfg.provider as ProviderChoice, batches: batches.length, paddedSpeedup };
  const { opened, fileBytes } = await openModels(manifest, opts, cfg.sparseInitializers, ctx);
  const inputs = batches.map((b) => ({ x: randomInput(manifest!.inputShape, b) }));
  const { paired, denseVsDense } = await timeInterleaved(opened, inputs, batches, cfg.timing);
  const { results, provider } = await collectResults(opened, paired, batches, cfg.timing.outlierMads);
  const profileBatch = Math.max(...batches);
  const profiles = await profileModels(manifest, fileBytes, (b) => inputs[batches.indexOf(b)]!, profileBatch, cfg.profileRuns, threads);
  const data_: SparseInferenceData = {
    context,
    preset: opts.preset,
    provider,
    threads,
    nchwcBlock,
    config: cfg,
    model: {
      arch: manifest.arch,
      width: manifest.width,
      inputShape: manifest.inputShape,
      dataset: `${manifest.dataset.name} (${manifest.dataset.source})`,
      manifest: join(modelsDir, "manifest.json"),
    },
    results,
    profiles,
    denseVsDense,
  };
  writeFileAtomic(join(opts.reportDir, "sparse-inference.json"), JSON.stringify(data_, null, 2) + "\n");
  await writeReport(data_, opts.reportDir);
}

/** The report's markdown, figure and CSV from the measured data. */
async function writeReport(d: SparseInferenceData, reportDir: string): Promise<void> {
  const { markdown, svg } = await renderSparseInference(d);
  writeFileAtomic(join(reportDir, "sparse-inference.svg"), svg);
  writeFileAtomic(join(reportDir, "sparse-inference.csv"), inferenceCsv(d.results));
  writeFileAtomic(join(reportDir, "sparse-inference.md"), markdown + "\n");
  console.log(markdown);
  console.log(`\nwrote ${join(reportDir, "sparse-inference.md")}, .csv and .svg`);
}

/**
 * --rerender: the report drawn again from the measurements a run saved in
 * <reportDir>/sparse-inference.json, without measuring (after a change in how the report
 * is drawn or judged). Its context (commit, date, machine) stays the measuring run's.
 */
export async function rerenderSparseInference(reportDir: string): Promise<void> {
  const file = join(reportDir, "sparse-inference.json");
  let d: SparseInferenceData;
  try {
    d = JSON.parse(readFileSync(file, "utf8")) as SparseInferenceData;
  } catch (e) {
    throw new ConfigError(
      `--rerender: cannot read ${file} (${(e as Error).message.split("\n")[0]}); run bun run bench:sparse-inference without --rerender to measure first`,
    );
  }
  const missing = ["context", "config", "model", "results", "profiles"].filter((k) => !(k in (d ?? {})));
  if (missing.length) throw new ConfigError(`--rerender: ${file} lacks ${missing.join(", ")}: not a sparse-inference record; measure again without --rerender`);
  await writeReport({ ...d, redrawn: { commit: gitCommit(), date: new Date().toISOString() } }, reportDir);
}

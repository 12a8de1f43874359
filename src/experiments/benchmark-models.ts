import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import * as ort from "onnxruntime-node";
import type { ModelsExportConfig } from "../config/generated/models-export.ts";
import type { PruneFinetuneUnitConfig } from "../config/generated/prune-finetune-unit.ts";
import type { RunnerConfig } from "../config/generated/runner.ts";
import type { TrainingConfig } from "../config/generated/training.ts";
import { ConfigError, validateConfig } from "../config/load.ts";
import { evalBatches } from "../data/batches.ts";
import type { Dataset } from "../data/types.ts";
import { countParams, type ModelSpec } from "../models/spec.ts";
import { trainUnit } from "../runner/kinds/train.ts";
import { TRAINED_WEIGHTS } from "../runner/kinds/shared/training-run.ts";
import { runUnits, type RunOutcome } from "../runner/run-units.ts";
import { RunStore } from "../runner/store.ts";
import { mkUnit, type Unit } from "../runner/unit.ts";
import { loadCheckpoint, type Checkpoint } from "../train/checkpoint.ts";
import { loadData, modelFor } from "../train/setup.ts";
import { writeFileAtomic } from "../util/atomic-write.ts";
import type { RunContext } from "../util/provenance.ts";
import { exportCheckpoint } from "../onnx/export.ts";
import { oneShotMethod } from "../prune/one-shot.ts";
import type { Manifest, ManifestModel, ModelKind } from "../onnx/manifest.ts";
export type { Manifest, ManifestModel, ModelKind } from "../onnx/manifest.ts";
import { macLayers } from "../onnx/flops.ts";

export const MANIFEST = "manifest.json";

/** The dense train unit and one prune-finetune unit per density and method. */
export function exportUnits(cfg: ModelsExportConfig): { dense: Unit<TrainingConfig>; pruned: Unit<PruneFinetuneUnitConfig>[] } {
  const dense = trainUnit(cfg.training, `dense ${cfg.training.model.arch} w${cfg.training.model.width}`);
  const defaults = { training: validateConfig("training", {}) };
  const fine = { ...cfg.training, optim: cfg.fineTune };
  const pruned = [
    ...cfg.unstructuredDensities.map((d) => ["global-magnitude", d, 1] as const),
    ...cfg.structuredDensities.map((d) => ["block-channels-l1", d, 1] as const),
    ...cfg.alignedStructured.densities.map((d) => ["block-channels-l1", d, cfg.alignedStructured.channelMultiple] as const),
  ].map(([method, density, channelMultiple]) =>
    mkUnit<PruneFinetuneUnitConfig>(
      "prune-finetune",
      { training: fine, source: dense.id, method, density, channelMultiple },
      [dense.id],
      `${method}${channelMultiple > 1 ? ` x${channelMultiple}` : ""} d=${density}`,
      defaults,
    ),
  );
  return { dense, pruned };
}

/** Top-1 correct of an ONNX file on the first `n` test images. */
export async function checkAccuracy(session: ort.InferenceSession, data: Dataset, n: number): Promise<{ images: number; correct: number }> {
  const count = Math.min(n, data.test.count),
    bytesPerImage = data.test.images.length / data.test.count;
  const split = { images: data.test.images.subarray(0, count * bytesPerImage), labels: data.test.labels.subarray(0, count), count };
  let correct = 0;
  for (const b of evalBatches(split, 64, data.mean, data.std, { height: data.height, width: data.width })) {
    const out = (
      await session.run({
        x: new ort.Tensor("float32", b.x.subarray(0, b.size * data.channels * data.height * data.width), [b.size, data.channels, data.height, data.width]),
      })
    ).logits!;
    const logits = out.data as Float32Array,
      k = out.dims[1]!;
    for (let i = 0; i < b.size; i++) {
      let arg = 0;
      for (let j = 1; j < k; j++) if (logits[i * k + j]! > logits[i * k + arg]!) arg = j;
      if (arg === b.y[i]) correct++;
    }
  }
  return { images: split.count, correct };
}

/**
 * Trains (or reuses from the run store) the dense and pruned models, compacts the
 * structured ones, exports every model with the parity check, and writes the files and
 * manifest.json into a staging folder beside `outDir` that replaces it only when
 * complete: a failed export leaves the previous one intact. Units whose weights file
 * is damaged are recomputed first.
 */
export async function exportBenchmarkModels(
  cfg: ModelsExportConfig,
  runner: RunnerConfig,
  o: { outDir: string; preset: string; reportDir: string; context: RunContext; log: (l: string) => void },
): Promise<Manifest> {
  const { dense, pruned } = exportUnits(cfg);
  const units = [dense, ...pruned];
  const data = await loadData(cfg.training, o.log);
  const train = async () => {
    const out = await runUnits(units, runner, { reportDir: o.reportDir, outputDirs: [{ dir: dirname(resolve(o.outDir)), flag: "--models-dir" }] });
    if (!out || out.failed.length || out.blocked.length) {
      const f = out?.failed[0];
      throw new Error(`model training did not complete: ${f ? `${f.label}: ${f.error}` : `${out?.blocked.length} blocked`} (run store ${runner.runsDir})`);
    }
    return out;
  };
  let out = await train();
  // Each unit's weights are read once; a finished unit whose weights file is damaged is not finished: recompute it, once.
  const weightsOf = (u: Unit<unknown>) => readCheckpoint(join(runner.runsDir, u.id, TRAINED_WEIGHTS));
  const checkpoints = new Map(units.map((u) => [u.id, weightsOf(u)]));
  const damaged = units.filter((u) => checkpoints.get(u.id) === null);
  if (damaged.length) {
    const store = new RunStore(runner.runsDir, runner.staleLockSeconds);
    for (const u of damaged) store.invalidate(u.id, `${TRAINED_WEIGHTS} is damaged`);
    out = await train();
    for (const u of damaged) checkpoints.set(u.id, loadCheckpoint(join(runner.runsDir, u.id, TRAINED_WEIGHTS)));
  }
  const spec: ModelSpec = modelFor(cfg.training, data);
  const bnEps = cfg.training.optim.bnEps;
  // The new export is written beside the old one and swapped in only when complete: a
  // failure on the way leaves the previous export as it was.
  const staging = `${resolve(o.outDir)}.staging-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    const manifest = await writeExport(cfg, units, out, { ...o, staging, data, spec, bnEps, checkpoints: checkpoints as Map<string, Checkpoint> });
    swapIn(staging, resolve(o.outDir));
    return manifest;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** The checkpoint, or null when it cannot be read intact. */
function readCheckpoint(path: string): Checkpoint | null {
  try {
    return loadCheckpoint(path);
  } catch {
    return null;
  }
}

/** Replaces `target` by `staging` with two renames; the old export is removed only after the new one is in place. */
function swapIn(staging: string, target: string): void {
  const old = `${target}.old-${process.pid}`;
  if (existsSync(target)) renameSync(target, old);
  renameSync(staging, target);
  rmSync(old, { recursive: true, force: true });
}

async function writeExport(
  cfg: ModelsExportConfig,
  units: Unit<unknown>[],
  out: RunOutcome,
  o: {
    staging: string;
    preset: string;
    context: RunContext;
    log: (l: string) => void;
    data: Dataset;
    spec: ModelSpec;
    bnEps: number;
    checkpoints: Map<string, Checkpoint>;
  },
): Promise<Manifest> {
  const { data, spec, bnEps } = o;
  const models: ManifestModel[] = [];
  for (const u of units) {
    const record = out.records.get(u.id)!;
    const ckpt = o.checkpoints.get(u.id)!;
    const isDense = u.kind === "train";
    const pc = u.config as PruneFinetuneUnitConfig;
    const kind: ModelKind = isDense ? "dense" : oneShotMethod(pc.method, "method").structured ? "structured" : "unstructured";
    const multiple = isDense ? 1 : pc.channelMultiple;
    const name = isDense ? "dense" : `${kind}${multiple > 1 ? `-x${multiple}` : ""}-d${Math.round(100 * pc.density)}`;
    const testAccuracy = (record.metrics as { finalTestAccuracy?: number | null }).finalTestAccuracy ?? null;
    const metadata = {
      name,
      kind,
      method: isDense ? "none" : pc.method,
      nominalDensity: String(isDense ? 1 : pc.density),
      dataset: data.name,
      testAccuracy: testAccuracy === null ? "n/a" : testAccuracy.toFixed(4),
      unit: u.id,
      producer: "pruning-harness models:export",
    };
    o.log(`export: ${name} (parity check against the TensorFlow.js oracle, ${cfg.parity.batch} images)`);
    const exported = await exportCheckpoint(spec, ckpt, { compact: kind === "structured", bnEps, metadata, parity: cfg.parity });
    const { bytes } = exported;
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ["cpu"] });
    const check = await checkAccuracy(session, data, cfg.checkImages);
    await session.release();
    const file = `${name}.onnx`;
    writeFileAtomic(join(o.staging, file), bytes);
    models.push({
      name,
      file,
      kind,
      method: isDense ? "none" : pc.method,
      nominalDensity: isDense ? 1 : pc.density,
      channelMultiple: multiple,
      convWeightDensity: exported.convWeightDensity,
      macs: exported.macs,
      macLayers: macLayers(exported.spec),
      parameters: countParams(exported.spec),
      removedConvChannels: exported.removedConvChannels,
      foldedChannels: exported.foldedChannels,
      testAccuracy,
      check,
      parityMaxAbsDiff: exported.parityMaxAbsDiff,
      bytes: bytes.length,
      sha256: createHash("sha256").update(bytes).digest("hex"),
      unit: u.id,
    });
  }
  const manifest: Manifest = {
    preset: o.preset,
    arch: cfg.training.model.arch,
    width: cfg.training.model.width,
    inputShape: spec.inputShape,
    dataset: { name: data.name, source: data.source, testImages: data.test.count },
    training: cfg.training,
    fineTune: cfg.fineTune,
    context: o.context,
    models,
  };
  writeFileAtomic(join(o.staging, MANIFEST), JSON.stringify(manifest, null, 2) + "\n");
  return manifest;
}

export function readManifest(dir: string): Manifest | null {
  const p = join(dir, MANIFEST);
  if (!existsSync(p)) return null;
  let m: Manifest;
  try {
    m = JSON.parse(readFileSync(p, "utf8")) as Manifest;
  } catch (e) {
    throw new ConfigError(`${p} is not valid JSON (${(e as Error).message}); delete ${dir} and re-run \`bun run models:export\``);
  }
  try {
    validateConfig("models-manifest", m, p);
  } catch (e) {
    throw new ConfigError(
      `${(e as Error).message}\n${p} is not a complete models:export manifest; re-run \`bun run models:export\` (it replaces ${dir} only once the new export is complete)`,
    );
  }
  return m;
}

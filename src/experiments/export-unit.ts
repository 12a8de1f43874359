import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { TrainingConfig } from "../config/generated/training.ts";
import { ConfigError, validateConfig } from "../config/load.ts";
import { TRAINED_WEIGHTS } from "../runner/kinds/shared/training-run.ts";
import { RunStore } from "../runner/store.ts";
import { loadCheckpoint } from "../train/checkpoint.ts";
import { loadData, modelFor } from "../train/setup.ts";
import { exportCheckpoint } from "../onnx/export.ts";

export interface UnitExport {
  bytes: Uint8Array;
  unit: string;
  kind: string;
  checkpoint: string;
  convWeightDensity: number;
  macs: { dense: number; remaining: number };
  removedConvChannels: number;
  parityMaxAbsDiff: number;
}

/**
 * Exports the model of any finished unit in a run store (train, dense, retrain, IMP,
 * OMP, BiP, ...): its final weights (or a named checkpoint file), masks applied, by
 * default compacted (exact, and a no-op when no channel is dead), parity-checked.
 */
export async function exportUnit(
  runsDir: string,
  id: string,
  o: { checkpoint?: string; compact: boolean; parity: { batch: number; tolerance: number; seed: number }; log: (l: string) => void },
): Promise<UnitExport> {
  const store = new RunStore(runsDir);
  const record = store.result(id);
  if (!record) throw new ConfigError(`unit ${id}: no finished result in ${runsDir} (run its command first, or check --runs-dir)`);
  const unit = JSON.parse(readFileSync(join(store.dir(id), "unit.json"), "utf8")) as { kind: string; config: Record<string, unknown> };
  const raw = (unit.config.training ?? unit.config) as Record<string, unknown>;
  const training = validateConfig<TrainingConfig>("training", raw, `unit ${id} training config`);
  const file = o.checkpoint ?? TRAINED_WEIGHTS;
  const path = join(store.dir(id), file);
  if (!existsSync(path))
    throw new ConfigError(`unit ${id} has no ${file} (kind ${unit.kind}); pass --checkpoint with one of its files, e.g. a snapshot-e<N>.ckpt of a dense unit`);
  const ckpt = loadCheckpoint(path);
  const data = await loadData(training, o.log);
  const spec = modelFor(training, data);
  const acc = (record.metrics as { finalTestAccuracy?: number | null }).finalTestAccuracy;
  const metadata = {
    kind: unit.kind,
    unit: id,
    checkpoint: file,
    dataset: data.name,
    compacted: String(o.compact),
    testAccuracy: acc == null ? "n/a" : acc.toFixed(4),
    producer: "pruning-harness models:export --unit",
  };
  const r = await exportCheckpoint(spec, ckpt, { compact: o.compact, bnEps: training.optim.bnEps, metadata, parity: o.parity });
  return {
    bytes: r.bytes,
    unit: id,
    kind: unit.kind,
    checkpoint: file,
    convWeightDensity: r.convWeightDensity,
    macs: r.macs,
    removedConvChannels: r.removedConvChannels,
    parityMaxAbsDiff: r.parityMaxAbsDiff,
  };
}

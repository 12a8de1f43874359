import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { TrainingConfig } from "../config/generated/training.ts";
import { ConfigError, validateConfig } from "../config/load.ts";
import { TRAINED_WEIGHTS } from "../runner/kinds/shared/training-run.ts";
import { RunStore } from "../runner/store.ts";
import { UNIT_ID_PATTERN } from "../runner/unit.ts";
import { CheckpointError, loadCheckpoint, type Checkpoint } from "../train/checkpoint.ts";
import { loadData, modelFor } from "../train/setup.ts";
import { exportCheckpoint } from "../onnx/export.ts";
import { toStateDict } from "../weights/state-dict.ts";
import { writeStateDict } from "../weights/torch-pt.ts";
import type { UnitRecord } from "../config/generated/record.ts";
import type { Unit } from "../runner/unit.ts";

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

/** A unit id the user named (--unit): a directory name of the run store, never a path. */
export function assertUnitId(id: string, runsDir: string): void {
  if (!UNIT_ID_PATTERN.test(id))
    throw new ConfigError(
      `--unit ${id}: not a unit id (expected <kind>-<12 hex digits>, the name of a unit's folder in ${runsDir}); \`bun run collect --runs-dir ${runsDir}\` lists the finished units`,
    );
}

/** The checkpoint files in a unit's directory, for error messages. */
function checkpointFiles(dir: string): string {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".ckpt")) : [];
  return files.length ? files.sort().join(", ") : "none";
}

/** The first tensor of the model's weights or BN statistics with a NaN or infinity, if any. */
function nonFinite(c: Checkpoint): string | null {
  for (const group of ["params", "buffers"] as const) for (const [name, t] of Object.entries(c.state[group])) if (!t.every(Number.isFinite)) return name;
  return null;
}

/** A finished unit's checkpoint, checked: its record, unit, training settings and weights. */
interface UnitCheckpoint {
  record: UnitRecord;
  unit: Unit;
  training: TrainingConfig;
  file: string;
  ckpt: Checkpoint;
}

/**
 * The checkpoint of a finished unit (its final weights, or a file of its folder it names),
 * with every way it can be unusable a ConfigError that says what to do: no result, a
 * path instead of a file name, a missing or damaged file, non-finite weights.
 */
function unitCheckpoint(runsDir: string, id: string, checkpoint: string | undefined): UnitCheckpoint {
  assertUnitId(id, runsDir);
  const store = new RunStore(runsDir);
  // Exporting reads the store; it never sets a damaged unit aside (a run of its command does).
  const record = store.result(id, { readOnly: true });
  if (!record) throw new ConfigError(`unit ${id}: no finished result in ${runsDir} (run its command first, or check --runs-dir)`);
  const unit = store.readUnit(id);
  const raw = (unit.config.training ?? unit.config) as Record<string, unknown>;
  const training = validateConfig<TrainingConfig>("training", raw, `unit ${id} training config`);
  const file = checkpoint ?? TRAINED_WEIGHTS;
  const dir = store.dir(id);
  // A file of the unit's own folder, by name: a path (../x, /etc/passwd) would leave it.
  if (!/^[^/\\]+$/.test(file) || file === "." || file === "..")
    throw new ConfigError(
      `--checkpoint ${file}: not a file name of unit ${id}; give the name of one of the checkpoint files in ${dir} (${checkpointFiles(dir)}), not a path`,
    );
  const path = join(dir, file);
  if (!existsSync(path))
    throw new ConfigError(
      `unit ${id} has no ${file} (kind ${unit.kind}); pass --checkpoint with one of its checkpoint files (${checkpointFiles(dir)}), e.g. a snapshot-e<N>.ckpt of a dense unit`,
    );
  let ckpt: Checkpoint;
  try {
    ckpt = loadCheckpoint(path);
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw e;
    // A file the user named that is no checkpoint at all is a bad flag value, not damage.
    if (checkpoint !== undefined && /bad magic/.test(e.reason))
      throw new ConfigError(`--checkpoint ${file}: ${e.reason}; name one of unit ${id}'s checkpoint files (${checkpointFiles(dir)})`);
    throw new ConfigError(
      `${path}: ${e.reason}: unit ${id}'s output is damaged; exporting changes nothing in the store: remove ${join(dir, "done.json")} and run the command that planned the unit again, which recomputes it`,
    );
  }
  const bad = nonFinite(ckpt);
  if (bad) {
    const at = (record.metrics as { divergedAt?: { epoch?: number; step?: number } }).divergedAt;
    throw new ConfigError(
      `unit ${id}: ${file} holds non-finite weights (${bad}): the training diverged${record.status === "diverged" ? ` (status "diverged"${at?.epoch !== undefined ? `, epoch ${at.epoch}` : ""})` : ""}, so there is no model to export; train it again with a lower learning rate (optim.lr)${unit.kind === "dense" ? ", or name an earlier snapshot with --checkpoint" : ""}`,
    );
  }
  return { record, unit, training, file, ckpt };
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
  const { record, unit, training, file, ckpt } = unitCheckpoint(runsDir, id, o.checkpoint);
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

/**
 * The model of a finished unit as a PyTorch state_dict (.pt, torch.load-able): masked
 * weights (pruned ones exactly zero, not compacted, so the names and shapes are those of
 * the architecture's reference code), BN statistics, and each BN's num_batches_tracked.
 */
export async function exportUnitStateDict(
  runsDir: string,
  id: string,
  o: { checkpoint?: string; log: (l: string) => void },
): Promise<{ bytes: Uint8Array; unit: string; kind: string; checkpoint: string; arch: string; tensors: number }> {
  const { unit, training, file, ckpt } = unitCheckpoint(runsDir, id, o.checkpoint);
  const spec = modelFor(training, await loadData(training, o.log));
  const entries = toStateDict(spec, ckpt.state, ckpt.masks);
  return { bytes: writeStateDict(entries), unit: id, kind: unit.kind, checkpoint: file, arch: spec.arch, tensors: entries.length };
}

import type { TrainingConfig } from "../../config/generated/training.ts";
import type { UnitRecord } from "../../config/generated/record.ts";
import type { Unit } from "../unit.ts";

export interface UnitContext {
  unit: Unit;
  /** Scratch space that survives a killed attempt (checkpoints). */
  workDir: string;
  /** The unit's own directory: final artifacts other units read (weights). */
  outDir: string;
  threads: number;
  log: (line: string) => void;
  /** Record and directory of a dependency (already complete). */
  dep: (id: string) => { record: UnitRecord; dir: string };
  /** Reports progress (throttled into the store, where the runner's progress view reads it). */
  progress: (done: number, total: number, text?: string) => void;
}

export interface UnitOutcome {
  status: UnitRecord["status"];
  metrics: Record<string, unknown>;
  engine: string;
  provider: string;
  /** Trained in a pack: with which units, and how the pack computed (the record's env.pack). */
  pack?: PackFacts;
}

/** What a record keeps of the pack its unit trained in. */
export interface PackFacts {
  /** Units of the pack as formed at the start (members that diverged left it), this one included. */
  members: string[];
  size: number;
  formulation: string;
}

/**
 * One kind of work the runner can schedule. Kinds are looked up by name in
 * kinds/registry.ts, so a worker process (or a Slurm task) can run any unit from its
 * unit.json alone.
 */
export interface UnitKind<C = Record<string, unknown>> {
  name: string;
  /** Schema (schemas/<name>.schema.json) that validates and fills the unit's config; absent only for test kinds. */
  schema?: string;
  run(config: C, ctx: UnitContext): Promise<UnitOutcome>;
  /**
   * Units that may train together in one pack (runner.pack): those with equal keys,
   * which differ only in seed, masks and start weights. Absent or null: trains alone.
   */
  packKey?(config: C): string | null;
  /** Units of one packKey trained as one pack: one outcome per unit, in order. */
  runPack?(configs: C[], ctxs: UnitContext[]): Promise<UnitOutcome[]>;
  /** Training images the unit will process, for --dry-run's compute estimate. */
  estimateImages(config: C): number;
  /** The training settings it runs with: its model and engine pick the throughput measurement for the estimate. */
  training?(config: C): Pick<TrainingConfig, "model" | "engine" | "data" | "optim">;
}

import type { TrainingConfig } from "../../../config/generated/training.ts";
import type { Unit } from "../../unit.ts";
import type { UnitKind } from "../kind.ts";

/** What an experiment gives a pruning method to plan, for one seed, the pruning of one pretrained model. */
export interface MethodPlanInput<S> {
  /** The pretrained dense unit; it keeps a snapshot at `finalEpoch` (and at any epoch a method's settings ask for). */
  dense: Unit<unknown>;
  /** The dense run's training settings (model, data, engine) with the seed of the pruning runs planned (training.seed). */
  training: TrainingConfig;
  finalEpoch: number;
  /** Target sparsities, each a fraction of the prunable weights. */
  sparsities: number[];
  /** The experiment's settings: the method reads its own part of them (its `S` names which). */
  settings: S;
  /** Makes a unit whose id leaves out the experiment's defaults. */
  unit: (kind: string, config: Record<string, unknown>, deps: string[], label: string) => Unit<unknown>;
}

export interface MethodUnits {
  units: Unit<unknown>[];
  /**
   * The units whose wall times add up to the time to the subnetwork at `target`, in
   * running order; the last one records its metrics (finalTestAccuracy, sparsity).
   */
  chain(target: number): Unit<unknown>[];
}

/** The units of a method that prunes the pretrained model straight to each target: one unit per target, its own chain. */
export function onePerTarget(sparsities: number[], unitFor: (sparsity: number) => Unit<unknown>): MethodUnits {
  const units = new Map(sparsities.map((s) => [s, unitFor(s)]));
  return { units: [...units.values()], chain: (target) => [units.get(target)!] };
}

/**
 * A pruning method an experiment can compare (bench:bip-vs-imp's `methods`): the unit
 * kinds that run it, the units it needs per seed, and how reports name and describe it.
 * `S` is the part of an experiment's settings it reads, so an experiment whose config
 * lacks a registered method's settings does not compile (methods/registry.ts).
 */
export interface PruningMethod<S> {
  /** Name in an experiment's `methods` list. */
  name: string;
  /** Name in report tables, plots and claims. */
  label: string;
  /** Unit kinds it runs; the runner registers them from the method registry. */
  kinds: UnitKind<never>[];
  plan(p: MethodPlanInput<S>): MethodUnits;
  /** The report's protocol line: what the method did, with the settings it ran with. */
  describe(settings: S): string;
}

/** "1 epoch", "5 fine-tuning epochs": for method descriptions. */
export const epochs = (n: number, what = "") => `${n} ${what}epoch${n === 1 ? "" : "s"}`;

import { ConfigError } from "../../../config/load.ts";
import { filterBipMethod, unstructuredBipMethod } from "./bip.ts";
import { graspMethod } from "./grasp.ts";
import { hydraMethod } from "./hydra.ts";
import { impMethod } from "./imp.ts";
import type { PruningMethod } from "./method.ts";
import { oneShotPruningMethod, ompMethod, randomMethod } from "./omp.ts";
import { ONE_SHOT_METHODS } from "../../../prune/one-shot.ts";

/**
 * The pruning methods experiments can compare, by the name their `methods` setting
 * uses. A new method brings its own module (unit kind, unit schema, plan, description)
 * and one line here; the runner registers its kinds from this list.
 */
export const PRUNING_METHODS = {
  imp: impMethod,
  omp: ompMethod,
  bip: unstructuredBipMethod,
  "bip-filter": filterBipMethod,
  random: randomMethod,
  grasp: graspMethod,
  hydra: hydraMethod,
};

export type MethodName = keyof typeof PRUNING_METHODS;

type SettingsOf<M> = M extends PruningMethod<infer S> ? S : never;
type Intersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

/** Every registered method's settings: an experiment config that compares methods must be assignable to this. */
export type AllMethodSettings = Intersection<SettingsOf<(typeof PRUNING_METHODS)[MethodName]>>;

/**
 * The registered method called `name`; else a one-shot method registered in
 * src/prune/one-shot.ts, run as OMP is (pruned once, then OMP's fine-tuning); else an
 * error that names both lists.
 */
export function pruningMethod(name: string, setting = "methods"): PruningMethod<AllMethodSettings> {
  if (Object.hasOwn(PRUNING_METHODS, name)) return PRUNING_METHODS[name as MethodName] as PruningMethod<AllMethodSettings>;
  if (Object.hasOwn(ONE_SHOT_METHODS, name)) return oneShotPruningMethod(name) as PruningMethod<AllMethodSettings>;
  throw new ConfigError(
    `${setting}: unknown pruning method "${name}"; registered: ${Object.keys(PRUNING_METHODS).join(", ")} (src/runner/kinds/methods/registry.ts), or any one-shot method: ${Object.keys(ONE_SHOT_METHODS).join(", ")} (src/prune/one-shot.ts); e.g. --set 'methods=["imp","bip"]'`,
  );
}

/** The unit kinds the registered methods run. */
export const methodKinds = () => [...new Set(Object.values(PRUNING_METHODS).flatMap((m) => m.kinds))];

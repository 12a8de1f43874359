import { ConfigError } from "../../config/load.ts";
import type { UnitKind } from "./kind.ts";
import { cellKind } from "./cell-pair-metrics.ts";
import { denseKind } from "./dense.ts";
import { methodKinds } from "./methods/registry.ts";
import { pruneFinetuneKind } from "./prune-finetune.ts";
import { retrainKind } from "./retrain.ts";
import { trainKind } from "./train.ts";

const KINDS = new Map<string, UnitKind<never>>(
  [trainKind, denseKind, retrainKind, cellKind, pruneFinetuneKind, ...methodKinds()].map((k) => [k.name, k as UnitKind<never>]),
);

/**
 * Modules named in PRUNING_HARNESS_EXTRA_KINDS (comma-separated paths, each exporting
 * `kinds: UnitKind[]`) add kinds at run time: the runner's tests use it for kinds that
 * fail or sleep on purpose.
 */
async function loadExtraKinds(): Promise<void> {
  const paths = (process.env.PRUNING_HARNESS_EXTRA_KINDS ?? "").split(",").filter(Boolean);
  for (const p of paths) {
    const mod = (await import(p)) as { kinds?: UnitKind<never>[] };
    for (const k of mod.kinds ?? []) KINDS.set(k.name, k);
  }
}

let extraLoaded: Promise<void> | undefined;

/** The name of every kind a worker can run: the built-in ones and PRUNING_HARNESS_EXTRA_KINDS's. */
export async function kindNames(): Promise<string[]> {
  await (extraLoaded ??= loadExtraKinds());
  return [...KINDS.keys()];
}

export async function getKind(name: string): Promise<UnitKind<never>> {
  await (extraLoaded ??= loadExtraKinds());
  const k = KINDS.get(name);
  if (!k) throw new ConfigError(`unknown unit kind "${name}"; known: ${[...KINDS.keys()].join(", ")}`);
  return k;
}

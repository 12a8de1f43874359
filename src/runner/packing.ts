import type { RunnerConfig } from "../config/generated/runner.ts";
import type { TrainingConfig } from "../config/generated/training.ts";
import { validateConfig } from "../config/load.ts";
import { packFormulation } from "../engine/registry.ts";
import type { EngineName } from "../engine/types.ts";
import { getKind } from "./kinds/registry.ts";
import { engineKey, packedRowsFor } from "./plan.ts";
import type { Unit } from "./unit.ts";

/** Each unit's pack key (UnitKind.packKey): null where its kind trains alone. */
export async function packKeysOf(units: Unit<unknown>[]): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  for (const u of units) {
    const kind = await getKind(u.kind);
    if (!kind.packKey || !kind.runPack) {
      out.set(u.id, null);
      continue;
    }
    const config = kind.schema ? validateConfig(kind.schema, u.config, `config of ${u.id}`) : u.config;
    out.set(u.id, kind.packKey(config as never));
  }
  return out;
}

/** `first` and the other units that share its pack key and `joins` admits, in order, at most `size` in all. */
export function packWith<U extends { id: string }>(
  first: U,
  units: U[],
  size: number,
  keys: ReadonlyMap<string, string | null>,
  joins: (u: U) => boolean,
): U[] {
  const key = keys.get(first.id) ?? null;
  const pack = [first];
  if (key === null) return pack;
  for (const v of units) {
    if (pack.length >= size) break;
    if (v.id !== first.id && keys.get(v.id) === key && joins(v)) pack.push(v);
  }
  return pack;
}

/** Units in packs of at most `size`: each pack the next unit and the following units of its key, in order. */
export function groupIntoPacks<U extends { id: string }>(units: U[], size: number, keys: ReadonlyMap<string, string | null>): U[][] {
  const taken = new Set<string>();
  const packs: U[][] = [];
  for (const u of units) {
    if (taken.has(u.id)) continue;
    const pack = packWith(u, units, size, keys, (v) => !taken.has(v.id));
    for (const v of pack) taken.add(v.id);
    packs.push(pack);
  }
  return packs;
}

/**
 * runner.pack as a number: itself, or for "auto" the pack size that would finish the
 * largest group of packable units soonest on `jobs` workers, from the measured rates of
 * the units' engine, model and batch (bench:train's packed rows in the throughput files:
 * rounds of packs x each pack's time), where that beats one unit per worker by
 * runner.packMinGain, else 1. `why` says what decided it. The rates are whole-machine
 * ones; workers share the machine, so this ranks sizes, it does not time them.
 */
export async function resolvePackSize(
  cfg: Pick<RunnerConfig, "pack" | "packMinGain">,
  units: Unit<unknown>[],
  files: string[],
  jobs = 1,
): Promise<{ size: number; why: string }> {
  if (cfg.pack !== "auto") return { size: cfg.pack, why: `runner.pack=${cfg.pack}` };
  const keys = await packKeysOf(units);
  const packable = units.find((u) => keys.get(u.id) !== null);
  if (!packable) return { size: 1, why: "no units of a kind that packs" };
  const kind = await getKind(packable.kind);
  const training = kind.training?.(validateConfig(kind.schema!, packable.config) as never) as TrainingConfig | undefined;
  if (!training) return { size: 1, why: "no training settings to look up" };
  const engine = await engineKey(training.engine);
  const formulation = packFormulation(engine.split("-")[0] as EngineName, training.engine.packFormulation);
  const { model, rows } = packedRowsFor(files, training, engine, formulation);
  const what = `${engine} ${formulation}, ${model.arch} w${model.width} ${(model.inputShape ?? [3, 32, 32]).join("x")} batch ${training.optim.batchSize}`;
  const one = rows.find((r) => r.size === 1);
  if (!one || !rows.some((r) => r.size > 1))
    return { size: 1, why: `runner.pack=auto: no packed bench:train rows for ${what} (bun run bench:train measures them); one unit per worker` };
  // The largest group of units that may pack together, spread over the workers: a size that
  // leaves a last round of few packs on many workers loses what its rate gains.
  const counts = new Map<string, number>();
  for (const k of keys.values()) if (k !== null) counts.set(k, (counts.get(k) ?? 0) + 1);
  const n = Math.max(...counts.values());
  const span = (r: { size: number; imagesPerSecond: number }) => Math.ceil(n / r.size / Math.max(1, jobs)) * (r.size / r.imagesPerSecond);
  const best = rows.filter((r) => r.size > 1).sort((a, b) => span(a) - span(b) || a.size - b.size)[0]!;
  const gain = span(one) / span(best);
  const how = `${n} units on ${jobs} worker(s)`;
  if (gain < cfg.packMinGain)
    return {
      size: 1,
      why: `runner.pack=auto: the best pack (K=${best.size}) would finish ${how} ${gain.toFixed(2)}x as fast as one per worker for ${what}, under packMinGain ${cfg.packMinGain}; one unit per worker (${best.source})`,
    };
  return {
    size: best.size,
    why: `runner.pack=auto: K=${best.size} (${(best.imagesPerSecond / one.imagesPerSecond).toFixed(2)}x one model's images/s) would finish ${how} ${gain.toFixed(2)}x as fast for ${what} (${best.source})`,
  };
}

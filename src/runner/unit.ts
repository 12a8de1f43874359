import { createHash } from "node:crypto";

/** A unit of work before it has an id: what to run, with which settings, after which units. */
export interface UnitSpec<C = Record<string, unknown>> {
  kind: string;
  config: C;
  /** Ids of units whose outputs this one reads; they run first. */
  deps: string[];
  /** Human-readable name for progress and reports; not part of the identity. */
  label?: string;
}

export interface Unit<C = Record<string, unknown>> extends UnitSpec<C> {
  id: string;
}

/** JSON with object keys sorted at every level: the same value always gives the same text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) throw new Error(`cannot hash non-finite number ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

/**
 * Drops every field whose value equals the default's, recursively, so that adding a new
 * setting with a default does not change the ids (and invalidate the results) of
 * existing runs (OpenLTH's hashname idea).
 */
export function dropDefaults(value: unknown, defaults: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value) || defaults === null || typeof defaults !== "object" || Array.isArray(defaults))
    return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const d = (defaults as Record<string, unknown>)[k];
    if (d !== undefined && canonicalJson(v) === canonicalJson(d)) continue;
    const reduced = dropDefaults(v, d);
    if (reduced !== null && typeof reduced === "object" && !Array.isArray(reduced) && Object.keys(reduced).length === 0 && d !== undefined) continue;
    out[k] = reduced;
  }
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * Training configs (any object with a numeric `seed` beside `data.subsetSeed`) as they
 * enter an id. Data subsets were once drawn from the training seed, so a config whose
 * subset seed equals its training seed means what its id meant before the setting
 * existed, and keeps that id (finished units stay valid); any other subset seed is part
 * of the id, even at its default, since whether it changes the data depends on the
 * training seed beside it. With `asDefaults`, the subset seed is removed instead.
 */
export function subsetSeedIdentity(value: unknown, asDefaults = false): unknown {
  if (Array.isArray(value)) return value.map((v) => subsetSeedIdentity(v, asDefaults));
  if (!isObject(value)) return value;
  const out = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, subsetSeedIdentity(v, asDefaults)]));
  const data = out.data;
  if (typeof out.seed === "number" && isObject(data) && typeof data.subsetSeed === "number" && (asDefaults || data.subsetSeed === out.seed)) {
    const { subsetSeed: _, ...rest } = data;
    out.data = rest;
  }
  return out;
}

/** What every unit id looks like (unitId): `<kind>-<12 hex digits>`; nothing else names a unit's directory. */
export const UNIT_ID_PATTERN = /^[a-z0-9-]+-[0-9a-f]{12}$/;

/** `<kind>-<first 12 hex digits of SHA-256(kind, config without defaults, sorted deps)>`. */
export function unitId(spec: UnitSpec<unknown>, defaults: unknown = {}): string {
  const config = dropDefaults(subsetSeedIdentity(spec.config), subsetSeedIdentity(defaults, true));
  const body = canonicalJson({ kind: spec.kind, config, deps: [...spec.deps].sort() });
  return `${spec.kind}-${createHash("sha256").update(body).digest("hex").slice(0, 12)}`;
}

/** A unit with its id: the hash of kind, config (settings at `defaults` left out) and deps. */
export function mkUnit<C = Record<string, unknown>>(kind: string, config: C, deps: string[], label: string, defaults: unknown = {}): Unit<C> {
  const spec = { kind, config, deps, label };
  return { ...spec, id: unitId(spec, defaults) };
}

import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { UnitRecord } from "../config/generated/record.ts";
import { ConfigError, settingSchema } from "../config/load.ts";
import { getKind, kindNames } from "../runner/kinds/registry.ts";
import { RunStore } from "../runner/store.ts";
import { canonicalJson, UNIT_ID_PATTERN as UNIT_ID } from "../runner/unit.ts";

/** Leaves of a config as dotted paths; lists are leaves (one cell). */
function leaves(value: unknown, prefix: string[] = []): [string[], unknown][] {
  if (value !== null && typeof value === "object" && !Array.isArray(value))
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => leaves(v, [...prefix, k]));
  return [[prefix, value]];
}

/**
 * The settings of a unit's config that differ from their schema defaults (settings
 * without a default, such as a target sparsity, always count), as path -> value;
 * references to other units are left out.
 */
export function changedSettings(schema: string | undefined, config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [path, v] of leaves(config)) {
    if (typeof v === "string" && UNIT_ID.test(v)) continue;
    if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "string" && UNIT_ID.test(x))) continue;
    const d = schema ? settingSchema(schema, path)?.default : undefined;
    if (d !== undefined && canonicalJson(d) === canonicalJson(v)) continue;
    out[path.join(".")] = v;
  }
  return out;
}

/** A unit's final metrics as columns: top-level scalars, and the dataset's name. */
function finalMetrics(m: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) if (v === null || ["number", "string", "boolean"].includes(typeof v)) out[k] = v;
  const ds = m.dataset as { name?: string } | undefined;
  if (ds?.name) out.dataset = ds.name;
  const epochs = m.epochs as unknown[] | undefined;
  if (Array.isArray(epochs)) out.epochs = epochs.length;
  return out;
}

export interface CollectedRow extends Record<string, unknown> {
  unitId: string;
  kind: string;
}

/**
 * Every complete unit of a run store as one flat row (ShrinkBench's results-to-dataframe):
 * identity, where and how it ran, the settings that differ from defaults (`config.`
 * columns), its final metrics (`metrics.` columns) and wall time. Incomplete units are
 * counted, not listed; folders without a unit.json are named in a notice. Reads only:
 * a damaged unit is reported, never set aside. An unknown kind in `kinds` is a ConfigError.
 */
export async function collectRuns(runsDir: string, o: { kinds?: string[] } = {}): Promise<{ rows: CollectedRow[]; incomplete: number }> {
  if (o.kinds?.length) {
    const known = await kindNames();
    const unknown = o.kinds.filter((k) => !known.includes(k));
    if (unknown.length) throw new ConfigError(`--kind ${unknown.join(",")}: no such unit kind; known kinds: ${known.join(", ")}`);
  }
  const store = new RunStore(runsDir);
  const rows: CollectedRow[] = [];
  let incomplete = 0;
  const ids = store.list();
  // A unit's folder without its unit.json (deleted, or a half-copied store) is not silently dropped.
  for (const d of readdirSync(runsDir, { withFileTypes: true }))
    if (d.isDirectory() && !d.name.startsWith(".") && !ids.includes(d.name))
      process.stderr.write(
        `notice: ${join(runsDir, d.name)} has no unit.json, so it is not read as a unit (left out); running the command that planned it rewrites unit.json\n`,
      );
  for (const id of ids.sort()) {
    const r: UnitRecord | null = store.result(id, { readOnly: true });
    if (!r) {
      incomplete++;
      continue;
    }
    if (o.kinds?.length && !o.kinds.includes(r.kind)) continue;
    const schema = await getKind(r.kind)
      .then((k) => k.schema)
      .catch(() => undefined);
    rows.push({
      unitId: r.unitId,
      kind: r.kind,
      label: r.label ?? null,
      status: r.status,
      engine: r.env.engine,
      provider: r.env.provider,
      threads: r.env.threads,
      host: r.env.host,
      commit: r.env.commit,
      finishedAt: r.finishedAt,
      wallSeconds: r.wallSeconds,
      ...Object.fromEntries(Object.entries(changedSettings(schema, r.config)).map(([k, v]) => [`config.${k}`, v])),
      ...Object.fromEntries(Object.entries(finalMetrics(r.metrics)).map(([k, v]) => [`metrics.${k}`, v])),
    });
  }
  return { rows, incomplete };
}

/** Column order: identity and run columns first, then settings, then metrics, each sorted. */
export function collectedColumns(rows: CollectedRow[]): string[] {
  const all = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const fixed = ["unitId", "kind", "label", "status", "engine", "provider", "threads", "host", "commit", "finishedAt", "wallSeconds"];
  return [...fixed.filter((c) => all.includes(c)), ...all.filter((c) => c.startsWith("config.")).sort(), ...all.filter((c) => c.startsWith("metrics.")).sort()];
}

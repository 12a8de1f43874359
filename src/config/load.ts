import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const SCHEMA_DIR = join(import.meta.dir, "../../schemas");

/** A bad setting: the message names the field path, what was expected and what was given. */
export class ConfigError extends Error {
  override name = "ConfigError";
  /** Exit code for command-line entry points: 2 = usage error, nothing was run. */
  readonly exitCode = 2;
}

const ajv = new Ajv({ useDefaults: true, allErrors: true, strict: true, allowUnionTypes: true });
const compiled = new Map<string, ValidateFunction>();

export function schemaFile(name: string): string {
  return join(SCHEMA_DIR, `${name}.schema.json`);
}

let registered = false;

/** Every schema is registered by its $id so schemas can $ref each other by file name. */
function validator(name: string): ValidateFunction {
  if (!registered) {
    for (const f of readdirSync(SCHEMA_DIR).filter((f) => f.endsWith(".schema.json"))) ajv.addSchema(JSON.parse(readFileSync(join(SCHEMA_DIR, f), "utf8")));
    registered = true;
  }
  let v = compiled.get(name);
  if (!v) {
    v = ajv.getSchema(`${name}.schema.json`);
    if (!v) throw new Error(`no schema ${name}.schema.json in ${SCHEMA_DIR}`);
    compiled.set(name, v);
  }
  return v;
}

function valueAt(root: unknown, pointer: string): unknown {
  let cur: unknown = root;
  for (const part of pointer.split("/").slice(1)) cur = (cur as Record<string, unknown> | undefined)?.[part.replace(/~1/g, "/").replace(/~0/g, "~")];
  return cur;
}

function describe(e: ErrorObject, root: unknown): string {
  const path = e.instancePath.replace(/^\//, "").replace(/\//g, ".") || "(top level)";
  if (e.keyword === "additionalProperties") return `${path === "(top level)" ? "" : path + "."}${String(e.params.additionalProperty)}: unknown setting`;
  if (e.keyword === "required") return `${path}: missing required setting "${String(e.params.missingProperty)}"`;
  const given = JSON.stringify(valueAt(root, e.instancePath));
  const message = e.message ?? e.keyword;
  // ajv says "must be integer", "must be >= 1", "must match pattern ...": read as "expected integer", ...
  const expected =
    e.keyword === "enum"
      ? `one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`
      : message.startsWith("must be ")
        ? message.slice(8)
        : `a value that ${message}`;
  return `${path}: expected ${expected}, given ${given}`;
}

/**
 * Validates a config against schemas/<name>.schema.json, filling defaults in place.
 * Unknown keys are errors. Throws ConfigError listing every problem.
 */
export function validateConfig<T>(name: string, input: unknown, source = "config"): T {
  const data = structuredClone(input ?? {});
  const v = validator(name);
  if (!v(data)) {
    const lines = (v.errors ?? []).map((e) => `  - ${describe(e, data)}`);
    throw new ConfigError(`invalid ${source} (${name}):\n${[...new Set(lines)].join("\n")}`);
  }
  return data as T;
}

/** Parses "a.b.c=value" (value as JSON when it parses, else a string) and sets it in obj. */
export function applyOverride(obj: Record<string, unknown>, assignment: string): void {
  const eq = assignment.indexOf("=");
  if (eq <= 0) throw new ConfigError(`override "${assignment}": expected path=value, e.g. optim.epochs=30`);
  const path = assignment.slice(0, eq).split(".");
  const raw = assignment.slice(eq + 1);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = raw;
  }
  let cur = obj;
  for (const key of path.slice(0, -1)) {
    const next = cur[key];
    if (next === undefined) cur[key] = {};
    else if (typeof next !== "object" || next === null || Array.isArray(next))
      throw new ConfigError(`override "${assignment}": ${key} is not a group of settings`);
    cur = cur[key] as Record<string, unknown>;
  }
  cur[path.at(-1)!] = value;
}

/** Deep merge of plain objects (arrays and scalars are replaced). */
export function deepMerge<T>(base: T, patch: unknown): T {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return patch as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(patch)) {
    const b = out[k];
    out[k] = typeof b === "object" && b !== null && !Array.isArray(b) ? deepMerge(b, v) : v;
  }
  return out as T;
}

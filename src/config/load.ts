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

// verbose: errors carry their schema node, whose patternDescription says in words what a pattern accepts.
const ajv = new Ajv({ useDefaults: true, allErrors: true, strict: true, allowUnionTypes: true, verbose: true });
ajv.addVocabulary(["patternDescription"]);
const compiled = new Map<string, ValidateFunction>();

export function schemaFile(name: string): string {
  return join(SCHEMA_DIR, `${name}.schema.json`);
}

type SchemaNode = Record<string, unknown>;

/** Whether schemas/<name>.schema.json exists: settings whose schema is found by name (a pruning method's) ask this. */
export function schemaExists(name: string): boolean {
  return schemaFiles().has(`${name}.schema.json`);
}

let schemas: Map<string, SchemaNode> | undefined;

/** Every file of schemas/, read once: ajv compiles them, and --help and list overrides read settings from them. */
function schemaFiles(): Map<string, SchemaNode> {
  return (schemas ??= new Map(
    readdirSync(SCHEMA_DIR)
      .filter((f) => f.endsWith(".schema.json"))
      .map((f) => [f, JSON.parse(readFileSync(join(SCHEMA_DIR, f), "utf8")) as SchemaNode]),
  ));
}

let registered = false;

/** Every schema is registered by its $id so schemas can $ref each other by file name. */
function validator(name: string): ValidateFunction {
  if (!registered) {
    for (const schema of schemaFiles().values()) ajv.addSchema(schema);
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

/** Settings that were renamed, by their old path: an old config file gets the new name, not only "unknown". */
const RENAMED: Record<string, string> = {
  retrainSeeds: "seeds.retrain (and seeds.dense for the dense seeds, which replaces dense.seed)",
};

function describe(e: ErrorObject, root: unknown): string {
  const path = e.instancePath.replace(/^\//, "").replace(/\//g, ".") || "(top level)";
  if (e.keyword === "additionalProperties") {
    const full = `${path === "(top level)" ? "" : path + "."}${String(e.params.additionalProperty)}`;
    return `${full}: unknown setting${RENAMED[full] ? `; renamed to ${RENAMED[full]}` : ""}`;
  }
  if (e.keyword === "required") return `${path}: missing required setting "${String(e.params.missingProperty)}"`;
  const value = valueAt(root, e.instancePath);
  // JSON has no Infinity: 1e999 in a config file parses to it, and JSON.stringify would say null.
  const given = typeof value === "number" && !Number.isFinite(value) ? `${String(value)} (not a finite number)` : JSON.stringify(value);
  if (e.keyword === "uniqueItems") {
    const items = value as unknown[];
    const [a, b] = [Number(e.params.i), Number(e.params.j)].sort((x, y) => x - y);
    return `${path}: ${JSON.stringify(items[a!])} is listed twice (items ${a} and ${b} of ${given}); give each value once`;
  }
  const message = e.message ?? e.keyword;
  // ajv says "must be integer", "must be >= 1", "must match pattern ...": read as "expected integer", ...
  const negated = /^must NOT have (fewer|more) than (\d+) (\w+)$/.exec(message);
  const described = e.keyword === "pattern" ? (e.parentSchema as { patternDescription?: string } | undefined)?.patternDescription : undefined;
  const expected = described
    ? described
    : e.keyword === "enum"
      ? `one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`
      : negated
        ? `${negated[1] === "fewer" ? "at least" : "at most"} ${negated[2]} ${negated[3]}`
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

/** The schema file's object, by file name ("training.schema.json"). */
function rawSchema(file: string): SchemaNode | undefined {
  return schemaFiles().get(file);
}

/** Follows a node's $ref ("file.schema.json#/definitions/X" or "#/definitions/X") to the node it names. */
function deref(node: SchemaNode, file: string): { node: SchemaNode; file: string } {
  for (let hops = 0; typeof node.$ref === "string" && hops < 16; hops++) {
    const [target, pointer = ""] = (node.$ref as string).split("#");
    file = target || file;
    let cur: unknown = rawSchema(file);
    for (const part of pointer.split("/").filter(Boolean)) cur = (cur as SchemaNode | undefined)?.[part];
    if (!cur) break;
    node = cur as SchemaNode;
  }
  return { node, file };
}

/** The schema node of the setting at `path` (["dense", "optim", "epochs"]) of schemas/<name>.schema.json, if the schema names it. */
export function settingSchema(name: string, path: string[]): SchemaNode | undefined {
  const root = rawSchema(`${name}.schema.json`);
  if (!root) return undefined;
  let at = deref(root, `${name}.schema.json`);
  for (const key of path) {
    const next = (at.node.properties as Record<string, SchemaNode> | undefined)?.[key];
    if (!next) return undefined;
    at = deref(next, at.file);
  }
  return at.node;
}

/** Top-level settings of schemas/<name>.schema.json with the first sentence of their descriptions, for --help. */
export function topLevelSettings(name: string): { name: string; description: string }[] {
  const root = settingSchema(name, []);
  return Object.entries((root?.properties as Record<string, SchemaNode> | undefined) ?? {}).map(([k, v]) => {
    const d = (typeof v.description === "string" ? v.description : (deref(v, `${name}.schema.json`).node.description as string | undefined)) ?? "";
    const first = d.match(/^.*?[.:;](\s|$)/)?.[0]?.trim() ?? d;
    return { name: k, description: first.replace(/[.:;]$/, "") };
  });
}

/** Names that would reach an object's prototype rather than a setting. */
const RESERVED_KEYS = new Set(["__proto__", "prototype", "constructor"]);

/** A ConfigError when a setting path (["optim", "lr"]) has an empty or reserved segment; `where` names the source. */
export function checkSettingPath(path: string[], where: string): void {
  const bad = path.find((k) => k === "" || RESERVED_KEYS.has(k));
  if (bad === undefined) return;
  throw new ConfigError(
    bad === ""
      ? `${where}: "${path.join(".")}" has an empty segment; write a path such as optim.epochs`
      : `${where}: "${bad}" is not a setting name (${[...RESERVED_KEYS].join(", ")} are refused); write a path such as optim.epochs`,
  );
}

/** Every key of a JSON value at any depth, as setting paths, checked with checkSettingPath. */
export function checkSettingKeys(value: unknown, where: string, path: string[] = []): void {
  if (typeof value !== "object" || value === null) return;
  for (const [k, v] of Object.entries(value)) {
    if (RESERVED_KEYS.has(k)) checkSettingPath([...path, k], where);
    checkSettingKeys(v, where, [...path, k]);
  }
}

function hasNonFinite(v: unknown): boolean {
  if (typeof v === "number") return !Number.isFinite(v);
  return Array.isArray(v) ? v.some(hasNonFinite) : typeof v === "object" && v !== null ? Object.values(v).some(hasNonFinite) : false;
}

/** A value as written after "=": JSON when it parses, else the string itself. */
function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** The setting paths a list of --set overrides ("path=value") names, as applyOverride reads them. */
export const overridePaths = (overrides: string[]) => new Set(overrides.map((o) => o.slice(0, o.indexOf("=")).trim()));

/**
 * Parses "a.b.c=value" (value as JSON when it parses, else a string) and sets it in obj.
 * With the schema's name, a setting that is a list also takes comma-separated values
 * ("densities=0.1,0.2", "methods=imp,bip") or a single value ("seeds=3").
 */
export function applyOverride(obj: Record<string, unknown>, assignment: string, schema?: string): void {
  const eq = assignment.indexOf("=");
  if (eq <= 0) throw new ConfigError(`override "${assignment}": expected path=value, e.g. optim.epochs=30`);
  const path = assignment.slice(0, eq).split(".");
  checkSettingPath(path, `override "${assignment}"`);
  const raw = assignment.slice(eq + 1);
  let value = parseValue(raw);
  if (schema && !Array.isArray(value) && settingSchema(schema, path)?.type === "array")
    value = raw.trim() === "" ? [] : typeof value === "string" ? raw.split(",").map((v) => parseValue(v.trim())) : [value];
  // JSON.parse("1e999") is Infinity, which the schema would report as null.
  if (hasNonFinite(value)) throw new ConfigError(`override "${assignment}": ${path.join(".")}: given ${raw} (not a finite number); give a finite number`);
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

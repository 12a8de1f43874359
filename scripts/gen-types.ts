#!/usr/bin/env bun
/**
 * Generates TypeScript types from every JSON Schema in schemas/ into
 * src/config/generated/. A $ref to another schema file becomes an import of that
 * file's generated type (json-schema-to-typescript would otherwise inline a copy).
 * `--check` fails when the committed types are stale (CI).
 */
import { Command } from "commander";
import { withVersion } from "../src/cli/common.ts";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { compile, type JSONSchema } from "json-schema-to-typescript";
import { writeFileAtomic } from "../src/util/atomic-write.ts";

const opts = withVersion(new Command("gen-types"))
  .description("generate src/config/generated/ from the JSON Schemas in schemas/ (gen:types; check:types with --check)")
  .option("--check", "write nothing; exit 1 when a generated file is stale (CI)")
  .showHelpAfterError("(run with --help for usage)")
  // Usage errors exit 2 like every other command; --help exits 0 before anything is written.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
  .parse()
  .opts<{ check?: boolean }>();

const root = join(import.meta.dir, "..");
const schemaDir = join(root, "schemas");
const outDir = join(root, "src/config/generated");
const check = opts.check === true;
const banner = "/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */";

type Node = Record<string, unknown>;
const files = readdirSync(schemaDir)
  .filter((f) => f.endsWith(".schema.json"))
  .sort();
const schemas = new Map(files.map((f) => [f, JSON.parse(readFileSync(join(schemaDir, f), "utf8")) as Node]));

/** The title of the schema node a cross-file $ref points at (its type's name). */
function refTitle(ref: string): { file: string; title: string } {
  const [file, pointer = ""] = ref.split("#") as [string, string?];
  let node = schemas.get(file);
  if (!node) throw new Error(`$ref to unknown schema ${file}`);
  for (const part of pointer.split("/").filter(Boolean)) node = node[part] as Node;
  // json-schema-to-typescript names a type by its title, else by its definitions key.
  const title = typeof node.title === "string" ? node.title : pointer.split("/").filter(Boolean).at(-1);
  if (!title) throw new Error(`${ref} has no title to name its type by`);
  return { file, title };
}

/** Replaces cross-file $refs by tsType references and collects the imports they need. */
function externalise(node: unknown, imports: Map<string, Set<string>>): unknown {
  if (Array.isArray(node)) return node.map((n) => externalise(n, imports));
  if (!node || typeof node !== "object") return node;
  const n = node as Node;
  if (typeof n.$ref === "string" && !n.$ref.startsWith("#")) {
    const { file, title } = refTitle(n.$ref);
    const mod = `./${basename(file, ".schema.json")}.ts`;
    if (!imports.has(mod)) imports.set(mod, new Set());
    imports.get(mod)!.add(title);
    const { $ref: _ref, ...rest } = n;
    return { ...rest, tsType: title };
  }
  return Object.fromEntries(Object.entries(n).map(([k, v]) => [k, externalise(v, imports)]));
}

mkdirSync(outDir, { recursive: true });
let stale = 0;
for (const file of files) {
  const imports = new Map<string, Set<string>>();
  const schema = externalise(schemas.get(file), imports) as JSONSchema;
  const importLines = [...imports].map(([mod, names]) => `import type { ${[...names].sort().join(", ")} } from "${mod}";`);
  const ts = await compile(schema, basename(file, ".schema.json"), {
    bannerComment: [banner, ...importLines].join("\n"),
    cwd: schemaDir,
    additionalProperties: false,
    style: { printWidth: 120 },
  });
  const out = join(outDir, `${basename(file, ".schema.json")}.ts`);
  let current = "";
  try {
    current = readFileSync(out, "utf8");
  } catch {}
  if (current === ts) continue;
  if (check) {
    console.error(`stale: ${out} differs from what schemas/${file} generates; run \`bun run gen:types\``);
    stale++;
  } else {
    writeFileAtomic(out, ts);
    console.log(`wrote ${out}`);
  }
}
if (stale) process.exit(1);

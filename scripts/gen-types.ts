#!/usr/bin/env bun
/**
 * Generates TypeScript types from every JSON Schema in schemas/ into
 * src/config/generated/. `--check` fails when the committed types are stale (CI).
 */
import { readdirSync, readFileSync, mkdirSync } from "node:fs";
import { join, basename } from "node:path";
import { compileFromFile } from "json-schema-to-typescript";
import { writeFileAtomic } from "../src/util/atomic-write.ts";

const root = join(import.meta.dir, "..");
const schemaDir = join(root, "schemas");
const outDir = join(root, "src/config/generated");
const check = process.argv.includes("--check");
const banner = "/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */";

mkdirSync(outDir, { recursive: true });
let stale = 0;
for (const file of readdirSync(schemaDir).filter((f) => f.endsWith(".schema.json")).sort()) {
  const ts = await compileFromFile(join(schemaDir, file), { bannerComment: banner, cwd: schemaDir, additionalProperties: false, style: { printWidth: 120 } });
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

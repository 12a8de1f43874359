import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../src/config/load.ts";
import { rerenderSparseInference } from "../../src/experiments/sparse-inference.ts";
import { inferenceData, inferenceResult } from "../helpers/inference-results.ts";

/** bench:sparse-inference --rerender: the report drawn again from a saved record, nothing measured. */
const dir = mkdtempSync(join(tmpdir(), "si-rerender-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const quiet = async (f: () => Promise<void>) => {
  const log = console.log;
  console.log = () => {};
  try {
    await f();
  } finally {
    console.log = log;
  }
};

test("the markdown, figure and CSV come from the saved measurements, with the measuring run's context", async () => {
  const d = inferenceData([inferenceResult("dense", "dense", 1, 2, { spread: 0 }), inferenceResult("u6", "unstructured", 6, 1, { spread: 0 })]);
  writeFileSync(join(dir, "sparse-inference.json"), JSON.stringify(d));
  await quiet(() => rerenderSparseInference(dir));
  const md = readFileSync(join(dir, "sparse-inference.md"), "utf8");
  expect(md).toContain("| u6 | unstructured | dense | 16.7% | 6.00x |");
  expect(md).toContain(d.context.date);
  expect(md).toMatch(/Drawn again on \d{4}-\d\d-\d\d at commit [0-9a-f]+( \(with uncommitted changes\))? from this run's saved measurements/);
  expect(readFileSync(join(dir, "sparse-inference.svg"), "utf8")).toStartWith("<svg");
  expect(readFileSync(join(dir, "sparse-inference.csv"), "utf8")).toMatch(/^u6,unstructured,dense initializers,/m);
});

test("no saved record, or a file that is not one: an error naming the file and the fix, nothing written", async () => {
  const empty = mkdtempSync(join(dir, "empty-"));
  await expect(rerenderSparseInference(empty)).rejects.toThrow(
    new RegExp(`cannot read ${join(empty, "sparse-inference.json")}.*without --rerender to measure first`),
  );
  writeFileSync(join(empty, "sparse-inference.json"), JSON.stringify({ results: [] }));
  const err = await rerenderSparseInference(empty).catch((e) => e);
  expect(err).toBeInstanceOf(ConfigError);
  expect(err.message).toContain("lacks context, config, model, profiles: not a sparse-inference record");
  expect(existsSync(join(empty, "sparse-inference.md"))).toBe(false);
});

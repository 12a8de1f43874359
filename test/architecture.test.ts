import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/**
 * The layers of src/, bottom first (README, Architecture). A module may import its own
 * folder and any folder below it; an import of a folder above is a layering error.
 */
const LAYERS = [
  ["util", "config"],
  ["data", "models"],
  ["engine"],
  ["prune", "metrics"],
  ["train"],
  ["onnx", "weights"],
  ["runner"],
  ["report"],
  ["experiments"],
  ["cli"],
];
const SRC = join(import.meta.dir, "../src");
const rank = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i] as const)));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

test("every folder of src/ has a layer, and no import runs from a lower layer to a higher one", () => {
  const folders = readdirSync(SRC).filter((f) => statSync(join(SRC, f)).isDirectory());
  expect(folders.filter((f) => !rank.has(f))).toEqual([]);
  const upward: string[] = [];
  for (const file of sources(SRC)) {
    const from = relative(SRC, file).split("/")[0]!;
    for (const m of readFileSync(file, "utf8").matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
      const target = resolve(dirname(file), m[1]!);
      if (!target.startsWith(SRC)) continue;
      const to = relative(SRC, target).split("/")[0]!;
      if (rank.get(to)! > rank.get(from)!) upward.push(`${relative(SRC, file)} -> ${relative(SRC, target)}`);
    }
  }
  expect(upward).toEqual([]);
});

test("no module of src/ imports itself through a cycle (type-only imports included)", () => {
  const edges = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const deps = [...readFileSync(file, "utf8").matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)]
      .map((m) => resolve(dirname(file), m[1]!))
      .filter((t) => t.startsWith(SRC));
    edges.set(file, deps);
  }
  // Depth-first search with colours: an edge back to a module on the current path closes a cycle.
  const state = new Map<string, "open" | "done">();
  const cycles: string[] = [];
  const path: string[] = [];
  const visit = (f: string) => {
    state.set(f, "open");
    path.push(f);
    for (const d of edges.get(f) ?? []) {
      if (state.get(d) === "open") cycles.push([...path.slice(path.indexOf(d)), d].map((p) => relative(SRC, p)).join(" -> "));
      else if (!state.has(d)) visit(d);
    }
    path.pop();
    state.set(f, "done");
  };
  for (const f of edges.keys()) if (!state.has(f)) visit(f);
  expect(cycles).toEqual([]);
});

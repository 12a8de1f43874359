/** The mutation summary from a hand-made Stryker report: counts, score, survivors with their source text, equivalents with their reason. */
import { expect, test } from "bun:test";
import { mutationScore, renderMutation, summarize, type StrykerMutant } from "../../src/report/mutation-report.ts";

const at = (line: number, c0: number, c1: number) => ({ start: { line, column: c0 }, end: { line, column: c1 } });
const m = (id: string, status: StrykerMutant["status"], location: StrykerMutant["location"], extra: Partial<StrykerMutant> = {}): StrykerMutant => ({
  id,
  mutatorName: "EqualityOperator",
  replacement: "a <= b",
  status,
  location,
  ...extra,
});

const source = "const x = 1;\nif (a < b) f();\nreturn a * b;\n";
const report = {
  files: {
    "src/metrics/b.ts": { source, mutants: [m("1", "Killed", at(2, 5, 10)), m("2", "Timeout", at(2, 5, 10)), m("3", "Survived", at(2, 5, 10))] },
    "src/metrics/a.ts": {
      source,
      mutants: [
        m("4", "NoCoverage", at(3, 8, 13), { mutatorName: "ArithmeticOperator", replacement: "a / b" }),
        m("5", "Ignored", at(2, 5, 10), { statusReason: "equivalent: dropped write" }),
        m("7", "Ignored", at(3, 8, 13), { statusReason: "hot loop: too slow instrumented" }),
        m("8", "Ignored", at(1, 11, 12), { mutatorName: "StringLiteral", statusReason: 'Ignored because of excluded mutation "StringLiteral"' }),
        m("6", "CompileError", at(1, 11, 12)),
      ],
    },
  },
};
const meta = { folder: "metrics", commit: "abc", date: "2026-12-07T00:00:00Z", seconds: 125, testFiles: ["t1", "t2"] };

test("score = (killed + timed out) / (killed + timed out + survived + not covered); ignored and errors are not scored", () => {
  const s = summarize(report, meta);
  expect(s.counts).toEqual({ killed: 1, timeout: 1, survived: 1, noCoverage: 1, equivalent: 1, notMutated: 2, errors: 1 });
  expect(s.score).toBe(0.5);
  expect(s.files.map((f) => [f.file, f.score])).toEqual([
    ["src/metrics/a.ts", 0],
    ["src/metrics/b.ts", 2 / 3],
  ]);
  expect(mutationScore({ killed: 0, timeout: 0, survived: 0, noCoverage: 0, equivalent: 3, notMutated: 2, errors: 0 })).toBeNull();
});

test("survivors and uncovered mutants carry the source text they replace; equivalents their reason", () => {
  const s = summarize(report, meta);
  expect(s.survivors).toEqual([
    { file: "src/metrics/a.ts", line: 3, mutator: "ArithmeticOperator", original: "a * b", replacement: "a / b" },
    { file: "src/metrics/b.ts", line: 2, mutator: "EqualityOperator", original: "a < b", replacement: "a <= b" },
  ]);
  expect(s.equivalent).toEqual([
    { file: "src/metrics/a.ts", line: 2, mutator: "EqualityOperator", original: "a < b", replacement: "a <= b", reason: "dropped write" },
  ]);
  // A hot loop is listed with its reason; an excluded mutator is only counted.
  expect(s.disabled).toEqual([
    { file: "src/metrics/a.ts", line: 3, mutator: "EqualityOperator", original: "a * b", replacement: "a <= b", reason: "hot loop: too slow instrumented" },
  ]);
});

test("the report judges each goal folder against the goal and names those not yet measured", () => {
  const md = renderMutation([summarize(report, meta)], 0.8, ["metrics", "train"]);
  expect(md).toContain("| `metrics` | 2 | 1 | 1 | 1 | 2 | **50.0%** | **not met** | abc | 2 min |");
  expect(md).toContain("Not yet measured: `train`.");
  expect(md).toContain("| src/metrics/a.ts:3 | ArithmeticOperator | `a * b` | `a / b` |");
  expect(md).toContain("| src/metrics/a.ts:2 | EqualityOperator | `a < b` | dropped write |");
  expect(md).toContain("Not mutated on purpose (1):");
  const met = renderMutation([{ ...summarize(report, meta), score: 0.8 }], 0.8, ["metrics"]);
  expect(met).toContain("| **80.0%** | met |");
});

test("a mutant spanning lines reads as one line; a long one is cut at 80 characters; survivors are listed in source order", () => {
  const src = "function f(a) {\n  return a +\n    1;\n}\n" + "x".repeat(100) + "\n";
  const s = summarize(
    {
      files: {
        "src/x.ts": {
          source: src,
          mutants: [
            m("2", "Survived", at(5, 1, 101), { mutatorName: "StringLiteral", replacement: '""' }),
            m("1", "Survived", { start: { line: 2, column: 10 }, end: { line: 3, column: 6 } }, { mutatorName: "ArithmeticOperator", replacement: "a - 1" }),
            m("3", "Survived", at(2, 3, 9), { mutatorName: "BlockStatement", replacement: "{}" }),
          ],
        },
      },
    },
    meta,
  );
  expect(s.survivors.map((x) => [x.line, x.original])).toEqual([
    [2, "return"],
    [2, "a + 1"],
    [5, `${"x".repeat(79)}…`],
  ]);
  expect(s.survivors.every((x) => x.reason === undefined)).toBe(true);
});

test("each folder's section: when it ran, on how many test files, what it leaves out, every file's row and the survivors in a folded list", () => {
  const s = { ...summarize(report, meta), excluded: { mutators: ["StringLiteral"], why: "prose" } };
  const md = renderMutation([s], 0.8, ["metrics"]);
  expect(md).toContain("## `metrics`\n\nRun at abc on 2026-12-07 in 2 min; judged by 2 test files. Not mutated here: StringLiteral (prose).");
  expect(md).toContain("| `src/metrics/b.ts` | 2 | 1 | 0 | 0 | 0 | 66.7% |");
  expect(md).toContain("<details><summary>2 surviving or uncovered mutants</summary>");
  expect(md).toContain("</details>");
  // A folder with no survivors and nothing left out has neither list.
  const clean = renderMutation([{ ...s, survivors: [], equivalent: [], disabled: [] }], 0.8, ["metrics"]);
  expect(clean).not.toContain("<details>");
  expect(clean).not.toContain("Equivalent mutants");
  expect(renderMutation([{ ...s, score: null }], 0.8, ["metrics"])).toContain("| **n/a** | **not met** |");
});

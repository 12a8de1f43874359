import { expect, test } from "bun:test";
import { bipPointsCsv, fig2CellsCsv, toCsv } from "../../src/report/csv.ts";

/** A small RFC 4180 reader, independent of the writer: quoted fields, doubled quotes, commas and newlines inside quotes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [],
    field = "",
    quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') ((field += '"'), i++);
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") (row.push(field), (field = ""));
    else if (c === "\n") (row.push(field), rows.push(row), (row = []), (field = ""));
    else field += c;
  }
  return rows;
}

test("CSV cells are quoted when they hold a comma, a quote or a newline; missing values are empty; lists are ;-joined", () => {
  const text = toCsv([
    { a: 'say "hi", then\nleave', b: null, c: [1, 2.5], d: { x: 1 } },
    { a: "plain", b: 3, e: true },
  ]);
  expect(parseCsv(text)).toEqual([
    ["a", "b", "c", "d", "e"],
    ['say "hi", then\nleave', "", "1;2.5", '{"x":1}', ""],
    ["plain", "3", "", "", "true"],
  ]);
});

test("the BiP table has one row per method and target with per-seed values and their means", () => {
  const rows = parseCsv(
    bipPointsCsv([
      { method: "IMP", target: 0.59, sparsity: 0.59, accuracies: [0.9, 0.8], seconds: [10, 14] },
      { method: "BiP", target: 0.59, sparsity: 0.6, accuracies: [0.85], accuraciesRunningBn: [0.84], seconds: [4] },
    ]),
  );
  const [head, imp, bip] = rows as [string[], string[], string[]];
  const col = (r: string[], name: string) => r[head.indexOf(name)];
  expect(col(imp, "method")).toBe("IMP");
  expect(Number(col(imp, "accuracyMean"))).toBeCloseTo(0.85, 12);
  expect(col(imp, "accuracies")).toBe("0.9;0.8");
  expect(col(imp, "secondsMean")).toBe("12");
  expect(col(imp, "accuraciesRunningBn")).toBe("");
  expect(col(bip, "accuracyRunningBnMean")).toBe("0.84");
  expect(col(bip, "seeds")).toBe("1");
});

test("the fig2 table has one row per cell in a fixed column order, per-pair values in matching order", () => {
  const rows = parseCsv(
    fig2CellsCsv([
      {
        temperature: 10,
        hotRank: 0,
        density: 0.2,
        testError: 0.1,
        seedErrors: [0.09, 0.11, 0.1, 0.1],
        denseSeedErrors: [
          { seed: 1, error: 0.1 },
          { seed: 2, error: null },
        ],
        testErrorStdErr: 0.004,
        pairs: [
          { denseSeed: 1, retrainSeeds: [1, 2], lmcBarrier: -0.02, lmcStdErr: 0.01, cka: 0.96, ckaStdErr: null },
          { denseSeed: 2, retrainSeeds: [1, 3], lmcBarrier: 0.04, lmcStdErr: null, cka: 0.94, ckaStdErr: 0.003 },
        ],
        lmcBarrier: 0.01,
        lmcStdErr: null,
        cka: 0.95,
        ckaStdErr: 0.002,
        errorFrom: "groups",
        regime: "II-A",
      },
    ]),
  );
  expect(rows).toEqual([
    [
      "temperature",
      "hotRank",
      "density",
      "testError",
      "testErrorStdErr",
      "seedErrors",
      "denseSeeds",
      "denseSeedErrors",
      "lmcBarrier",
      "lmcStdErr",
      "cka",
      "ckaStdErr",
      "errorFrom",
      "regime",
      "pairLabels",
      "pairLmcBarriers",
      "pairLmcStdErrs",
      "pairCkas",
      "pairCkaStdErrs",
    ],
    [
      "10",
      "0",
      "0.2",
      "0.1",
      "0.004",
      "0.09;0.11;0.1;0.1",
      "1;2",
      "0.1;",
      "0.01",
      "",
      "0.95",
      "0.002",
      "groups",
      "II-A",
      "d1:1-2;d2:1-3",
      "-0.02;0.04",
      "0.01;",
      "0.96;0.94",
      ";0.003",
    ],
  ]);
});

/** The small writers every report uses, each against output written by hand: CSV cells and rows, the context table, the shared-data line. */
import { expect, test } from "bun:test";
import { inferenceCsv, throughputCsv, toCsv } from "../../src/report/csv.ts";
import { contextMarkdown, sharedDataLine, table, trainFingerprintsOf } from "../../src/report/markdown.ts";
import type { InferenceResult } from "../../src/report/sparse-inference-report.ts";
import type { BenchRecord } from "../../src/report/train-throughput-report.ts";

test("CSV cells: empty for missing, lists joined with ';' (objects in them as JSON), objects as JSON, quoted when they hold a comma, quote or line break", () => {
  expect(toCsv([{ a: null, b: undefined, c: [1, 2], d: [{ x: 1 }, null], e: { y: "z" }, f: 'say "hi", twice', g: "two\nlines", h: "plain" }])).toBe(
    'a,b,c,d,e,f,g,h\n,,1;2,"{""x"":1};null","{""y"":""z""}","say ""hi"", twice","two\nlines",plain\n',
  );
  // Columns are the union of the rows' keys in first-seen order, unless given.
  expect(toCsv([{ a: 1 }, { b: 2, a: 3 }])).toBe("a,b\n1,\n3,2\n");
  expect(toCsv([{ a: 1, b: 2 }], ["b"])).toBe("b\n2\n");
});

const timing = (batch: number, p50: number) =>
  ({ batch, samples: 10, p50, p90: p50 * 1.1, p99: p50 * 1.2, trimmedMean: p50, imagesPerSecond: (1000 * batch) / p50 }) as never;

test("sparse-inference.csv: a row per file and batch, the latency batch first, the paired speedup of that batch; a failed file one row with its reason", () => {
  const ok = {
    model: "u10",
    kind: "unstructured",
    storage: "dense initializers",
    nominalDensity: 0.1,
    convWeightDensity: 0.1,
    theoreticalSpeedup: 6,
    testAccuracy: 0.9,
    check: null,
    bytes: 100,
    status: "measured",
    latency: timing(1, 2),
    throughput: [timing(64, 20)],
    pairedSpeedup: [
      { batch: 1, perRound: [], median: 1.5 },
      { batch: 64, perRound: [], median: 1.25 },
    ],
  } as unknown as InferenceResult;
  const failed = {
    ...ok,
    model: "s50",
    kind: "structured",
    channelMultiple: 8,
    paddedSpeedup: 1.7,
    status: "failed",
    reason: "no EP",
    latency: undefined,
    throughput: undefined,
    pairedSpeedup: undefined,
  } as unknown as InferenceResult;
  const lines = inferenceCsv([ok, failed]).trim().split("\n");
  const header = lines[0]!.split(",");
  const rows = lines.slice(1).map((l) => Object.fromEntries(l.split(",").map((v, i) => [header[i]!, v])));
  expect(rows.map((r) => [r.model, r.measure, r.batch, r.p50Ms, r.pairedSpeedup, r.channelMultiple, r.paddedSpeedup, r.status, r.reason])).toEqual([
    ["u10", "latency", "1", "2", "1.5", "1", "", "measured", ""],
    ["u10", "throughput", "64", "20", "1.25", "1", "", "measured", ""],
    ["s50", "", "", "", "", "8", "1.7", "failed", "no EP"],
  ]);
  // Without a latency timing, the first row is a throughput one.
  expect(inferenceCsv([{ ...ok, latency: undefined, pairedSpeedup: undefined } as unknown as InferenceResult]).split("\n")[1]).toContain(",throughput,64,");
});

test("train-throughput.csv: every engine row, raw PyTorch row and grid row, each marked with its source", () => {
  const csv = throughputCsv({
    throughput: [{ case: "c", engine: "onnx-cpu", status: "skipped", reason: "r" }],
    torch: [{ case: "c", device: "cpu", status: "skipped", reason: "s" }],
    grid: [{ case: "c", workers: 2, status: "skipped", reason: "t" }],
  } as unknown as Pick<BenchRecord, "throughput" | "torch" | "grid">);
  expect(csv).toBe("source,case,engine,status,reason,device,workers\nengine,c,onnx-cpu,skipped,r,,\nraw-pytorch,c,,skipped,s,cpu,\ngrid,c,,skipped,t,,2\n");
});

test("the context table and plain tables escape a '|' inside a cell", () => {
  const c = {
    date: "2026-01-01",
    commit: "abc",
    machine: { host: "h", cpu: "CPU|X", cores: 2, memoryGiB: 4, os: "linux" },
    runtime: { bun: "1.4", ort: "1.29" },
  };
  expect(contextMarkdown(c, { preset: "quick", n: 3 })).toBe(
    [
      "| context | |",
      "|---|---|",
      "| date | 2026-01-01 |",
      "| commit | abc |",
      "| machine | CPU\\|X, 2 cores, 4 GiB (linux) |",
      "| runtime | bun 1.4, ort 1.29 |",
      "| preset | quick |",
      "| n | 3 |",
    ].join("\n"),
  );
  expect(table(["a", "b|c"], [[1, "x|y"]])).toBe("| a | b\\|c |\n| --- | --- |\n| 1 | x\\|y |");
});

test("the shared-data line: subsets or full splits, and one, none or several training-set fingerprints", () => {
  const fp = "0123456789abcdef";
  expect(sharedDataLine({ subsetSeed: 3, trainLimit: 100 }, [fp], "every unit")).toBe(
    "subsets drawn with data seed 3, the same for every training seed; every unit recorded one training-set fingerprint (0123456789ab).",
  );
  expect(sharedDataLine({ subsetSeed: 3, testLimit: 10 }, [], "x")).toStartWith("subsets drawn with data seed 3");
  expect(sharedDataLine({ subsetSeed: 3 }, [], "x")).toBe(
    "the full splits; no unit recorded a training-set fingerprint (units computed before fingerprints were recorded).",
  );
  expect(sharedDataLine({ subsetSeed: 3 }, [fp, "fedcba9876543210"], "x")).toBe(
    "the full splits; **WARNING: the units recorded 2 different training-set fingerprints** (0123456789ab, fedcba987654): they did not all train on the same images.",
  );
  expect(
    trainFingerprintsOf([
      { metrics: { trainFingerprint: "a" } },
      { metrics: { trainFingerprint: "a" } },
      { metrics: {} },
      { metrics: { trainFingerprint: "b" } },
    ]),
  ).toEqual(["a", "b"]);
});

import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { UnitRecord } from "../../src/config/generated/record.ts";
import { ConfigError } from "../../src/config/load.ts";
import { collectRuns } from "../../src/report/collect.ts";
import { RunStore } from "../../src/runner/store.ts";
import { unit } from "../runner/helpers.ts";

/**
 * collectRuns on a run store written here by hand (plans and records, no training): which
 * units become rows, in which order, with which columns, and what it says about the rest.
 */
const root = mkdtempSync(join(tmpdir(), "collect-store-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function record(u: ReturnType<typeof unit>, metrics: Record<string, unknown>, o: Partial<UnitRecord> = {}): UnitRecord {
  return {
    unitId: u.id,
    kind: u.kind,
    ...(u.label ? { label: u.label } : {}),
    status: "done",
    config: u.config as Record<string, unknown>,
    deps: [],
    env: { engine: "onnx", provider: "cpu", threads: 2, host: "h", commit: "c0ffee", runtime: {} },
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:01:00.000Z",
    wallSeconds: 60,
    metrics,
    ...o,
  } as UnitRecord;
}

/** A store of two finished train units, one planned only, one folder that lost its unit.json, and a hidden folder. */
function store(): { dir: string; ids: string[] } {
  const dir = mkdtempSync(join(root, "runs-"));
  const s = new RunStore(dir);
  const a = unit("train", { seed: 2, optim: { epochs: 3 } }, [], "second");
  const b = unit("train", { seed: 1 }, []);
  const planned = unit("train", { seed: 9 });
  for (const u of [a, b, planned]) s.plan(u);
  s.complete(
    record(a, {
      finalTestAccuracy: 0.5,
      diverged: false,
      note: "ok",
      missing: null,
      nested: { deep: 1 },
      list: [1, 2],
      dataset: { name: "cifar10", train: 10 },
      epochs: [{}, {}, {}],
    }),
  );
  s.complete(record(b, { finalTestAccuracy: 0.25, dataset: { train: 10 }, epochs: "not a list" }));
  mkdirSync(join(dir, "train-0123456789ab"));
  mkdirSync(join(dir, ".slurm"));
  return { dir, ids: [a.id, b.id].sort() };
}

async function quietly<T>(f: () => Promise<T>): Promise<{ value: T; stderr: string }> {
  const write = process.stderr.write.bind(process.stderr);
  let stderr = "";
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  try {
    return { value: await f(), stderr };
  } finally {
    process.stderr.write = write;
  }
}

test("finished units become rows in id order: identity, run, changed settings and scalar metrics; planned ones are counted", async () => {
  const { dir, ids } = store();
  const { value, stderr } = await quietly(() => collectRuns(dir));
  expect(value.incomplete).toBe(1);
  expect(value.rows.map((r) => r.unitId)).toEqual(ids);
  const a = value.rows.find((r) => r.label === "second")!;
  expect(a).toMatchObject({ kind: "train", status: "done", engine: "onnx", provider: "cpu", threads: 2, host: "h", commit: "c0ffee", wallSeconds: 60 });
  expect(a.finishedAt).toBe("2026-01-01T00:01:00.000Z");
  // Settings: only what differs from the training schema's defaults.
  expect(Object.keys(a).filter((k) => k.startsWith("config."))).toEqual(["config.seed", "config.optim.epochs"]);
  // Metrics: scalars (null included), the dataset's name, the number of epochs; not nested objects or lists.
  expect(Object.fromEntries(Object.entries(a).filter(([k]) => k.startsWith("metrics.")))).toEqual({
    "metrics.finalTestAccuracy": 0.5,
    "metrics.diverged": false,
    "metrics.note": "ok",
    "metrics.missing": null,
    "metrics.dataset": "cifar10",
    "metrics.epochs": 3,
  });
  const b = value.rows.find((r) => r.label === null)!;
  expect(Object.keys(b)).not.toContain("metrics.dataset");
  expect(b["metrics.epochs"]).toBe("not a list");
  // The folder without unit.json is named once; the hidden one is not a unit.
  expect(stderr).toContain(`notice: ${join(dir, "train-0123456789ab")} has no unit.json, so it is not read as a unit`);
  expect(stderr).not.toContain(".slurm");
  expect(stderr.match(/notice:/g)).toHaveLength(1);
});

test("kinds: only the named ones; an unknown kind is a ConfigError naming the known ones; nothing is read-write", async () => {
  const { dir } = store();
  expect((await quietly(() => collectRuns(dir, { kinds: ["train"] }))).value.rows).toHaveLength(2);
  expect((await quietly(() => collectRuns(dir, { kinds: ["dense"] }))).value.rows).toHaveLength(0);
  expect((await quietly(() => collectRuns(dir, { kinds: [] }))).value.rows).toHaveLength(2);
  const err = await collectRuns(dir, { kinds: ["train", "nosuch"] }).catch((e) => e);
  expect(err).toBeInstanceOf(ConfigError);
  expect(err.message).toMatch(/^--kind nosuch: no such unit kind; known kinds: .*\btrain\b/);
});

import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { UnitRecord } from "../../src/config/generated/record.ts";
import { groupIntoPacks, packKeysOf, resolvePackSize } from "../../src/runner/packing.ts";
import { trainPack } from "../../src/train/pack-loop.ts";
import type { OptimConfig } from "../../src/config/generated/training.ts";
import { loadCheckpoint } from "../../src/train/checkpoint.ts";
import { runUnits } from "../../src/runner/run-units.ts";
import { RunStore } from "../../src/runner/store.ts";
import type { Unit } from "../../src/runner/unit.ts";
import { outcomeOf, REPO, runner, tempRuns, tinyTrain, unit } from "./helpers.ts";

const quiet = { reportDir: "/nonexistent", log: () => {}, progress: false };
const seeds = [1, 2, 3];
const grid = () => seeds.map((s) => tinyTrain(s, { optim: { epochs: 3, batchSize: 32, lr: 0.05 } }));
const packOf = (r: UnitRecord | undefined) => (r?.env as { pack?: { members: string[]; size: number; formulation: string } } | undefined)?.pack;

describe("the runner packs units", () => {
  test("seeds of one training config train as one pack: the records say so, and match the units trained alone bit for bit", async () => {
    const alone = await runUnits(grid(), runner(tempRuns(), { jobs: 1, pack: 1 }), quiet);
    const runs = tempRuns();
    const packed = await runUnits(grid(), runner(runs, { jobs: 1, pack: 3 }), quiet);
    const ids = grid().map((u) => u.id);
    for (const id of ids) {
      expect(outcomeOf(packed!.records.get(id))).toEqual(outcomeOf(alone!.records.get(id)));
      expect(packOf(packed!.records.get(id))).toEqual({ members: ids, size: 3, formulation: "loop" });
      expect(packOf(alone!.records.get(id))).toBeUndefined();
      // Each member keeps its own per-epoch record, as a unit trained alone does.
      expect(existsSync(join(runs, id, "epochs.jsonl"))).toBe(true);
    }
    // Ids do not depend on packing: the same store serves an unpacked run without training anything.
    const store = new RunStore(runs);
    const attempts = ids.map((id) => store.attempts(id));
    const again = await runUnits(grid(), runner(runs, { jobs: 1, pack: 1 }), quiet);
    expect(again!.ran).toEqual([]);
    expect(ids.map((id) => store.attempts(id))).toEqual(attempts);
  }, 120_000);

  test("a pack killed mid-run resumes from its members' checkpoints, here unpacked, to the uninterrupted result", async () => {
    const want = await runUnits(grid(), runner(tempRuns(), { jobs: 1, pack: 1 }), quiet);
    const runs = tempRuns();
    // Plan the units into the store, then start one worker on the pack and kill it after its first epoch.
    const store = new RunStore(runs);
    for (const u of grid()) store.plan(u);
    const ids = grid().map((u) => u.id);
    const worker = Bun.spawn([process.execPath, join(REPO, "src/runner/worker.ts"), "--runs-dir", runs, "--unit", ids.join(","), "--threads", "1"], {
      stdout: "ignore",
      stderr: "ignore",
      env: { ...process.env },
    });
    const deadline = Date.now() + 60_000;
    while (!ids.every((id) => existsSync(join(store.workDir(id), "checkpoint.ckpt"))) && Date.now() < deadline) await Bun.sleep(50);
    worker.kill("SIGKILL");
    await worker.exited;
    expect(ids.every((id) => existsSync(join(store.workDir(id), "checkpoint.ckpt")))).toBe(true);
    expect(ids.some((id) => store.isDone(id))).toBe(false);
    // What the pack's first epoch recorded: a resumed unit keeps it, one that started over would not.
    const firstEpoch = ids.map((id) => (loadCheckpoint(join(store.workDir(id), "checkpoint.ckpt")).meta.history as { seconds: number }[])[0]!.seconds);
    const out = await runUnits(grid(), runner(runs, { jobs: 1, pack: 1 }), quiet);
    for (const id of ids) {
      expect(outcomeOf(out!.records.get(id))).toEqual(outcomeOf(want!.records.get(id)));
      const epochs = (out!.records.get(id)!.metrics as { epochs: { seconds: number }[] }).epochs;
      expect(epochs).toHaveLength(3);
      expect(epochs[0]!.seconds).toBe(firstEpoch[ids.indexOf(id)]!);
    }
  }, 120_000);
});

describe("pack grouping and the auto size", () => {
  test("groupIntoPacks: the next unit and the following ones of its key, at most K, in order; keyless units alone", () => {
    const u = (id: string) => ({ id });
    const keys = new Map<string, string | null>([
      ["a", "x"],
      ["b", "y"],
      ["c", "x"],
      ["d", null],
      ["e", "x"],
      ["f", "y"],
    ]);
    const ids = (k: number) => groupIntoPacks(["a", "b", "c", "d", "e", "f"].map(u), k, keys).map((p) => p.map((x) => x.id).join(""));
    expect(ids(2)).toEqual(["ac", "bf", "d", "e"]);
    expect(ids(3)).toEqual(["ace", "bf", "d"]);
    expect(ids(1)).toEqual(["a", "b", "c", "d", "e", "f"]);
  });

  test("runner.pack=auto takes the pack size that finishes the packable units soonest on the workers, if it beats packMinGain, and says why", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pack-auto-"));
    const file = join(dir, "train-throughput.json");
    const seedsOf = (n: number, over: Record<string, unknown> = {}) => Array.from({ length: n }, (_, i) => tinyTrain(i + 1, over));
    const cfg = tinyTrain(1).config as { model: { width: number }; optim: { batchSize: number } };
    const write = (rates: Record<number, number>, inputShape = [3, 32, 32]) =>
      writeFileSync(
        file,
        JSON.stringify({
          context: { date: "2026-12-07T00:00:00Z", commit: "x", machine: {}, runtime: {} },
          config: { throughput: { cases: [{ name: "tiny", arch: "preresnet20", width: cfg.model.width, inputShape, batchSize: cfg.optim.batchSize }] } },
          throughput: [],
          packs: Object.entries(rates).map(([k, ips]) => ({
            case: "tiny",
            engine: "onnx-cpu",
            formulation: "loop",
            size: Number(k),
            status: "measured",
            imagesPerSecond: ips,
          })),
        }),
      );
    const auto = (units: Unit<unknown>[], jobs: number, gain = 1.1) => resolvePackSize({ pack: "auto", packMinGain: gain }, units, [file], jobs);
    // 8 units on 2 workers: K=2 takes 2 rounds of 2/130 s, K=1 4 rounds of 1/100 s: 1.30x.
    write({ 1: 100, 2: 130, 4: 120 });
    expect(await auto(seedsOf(8), 2)).toMatchObject({ size: 2 });
    expect((await auto(seedsOf(8), 2)).why).toContain("1.30x");
    // One unit gains nothing from packing, whatever the rates.
    expect(await auto(seedsOf(1), 2)).toMatchObject({ size: 1 });
    // The fastest rate is not the pick when its packs leave workers idle: 40 units on 2 workers,
    // K=8 gives 3 rounds of 8/150 s, K=2 10 rounds of 2/130 s.
    write({ 1: 100, 2: 130, 8: 150 });
    expect(await auto(seedsOf(40), 2)).toMatchObject({ size: 2 });
    expect(await auto(seedsOf(40), 1)).toMatchObject({ size: 8 });
    // Under packMinGain: one per worker; the threshold is the setting's.
    write({ 1: 100, 2: 105 });
    expect(await auto(seedsOf(8), 2)).toMatchObject({ size: 1 });
    expect((await auto(seedsOf(8), 2, 1.04)).size).toBe(2);
    write({ 2: 130 });
    expect((await auto(seedsOf(8), 2)).why).toContain("no packed bench:train rows");
    expect(await resolvePackSize({ pack: 3, packMinGain: 1.1 }, seedsOf(8), [file])).toMatchObject({ size: 3 });
    // data.dataset=auto may train on the embedded Fashion-MNIST (1x32x32 once padded): its rows decide too.
    write({ 1: 100, 2: 130 }, [1, 32, 32]);
    const autoData = seedsOf(8, { data: { dataset: "auto", trainLimit: 128 } });
    expect(await auto(autoData, 2)).toMatchObject({ size: 2 });
    expect((await auto(autoData, 2)).why).toContain("1x32x32");
    // Units of a kind that does not pack stay alone.
    expect((await auto([unit("echo", { value: 1 })], 2)).size).toBe(1);
  });
});

describe("evaluation where a result reads it", () => {
  test("a dense run tests after its snapshot epochs and its last only, unless testEveryEpoch asks for the curve", async () => {
    const training = tinyTrain(1, { optim: { epochs: 4, batchSize: 32, lr: 0.05 } }).config;
    const tested = async (extra: Record<string, unknown>) => {
      const u = unit("dense", { training, snapshots: [2], ...extra });
      const out = await runUnits([u], runner(tempRuns(), { jobs: 1 }), quiet);
      const epochs = (out!.records.get(u.id)!.metrics as { epochs: { epoch: number; testAccuracy?: number }[] }).epochs;
      return epochs.filter((e) => e.testAccuracy !== undefined).map((e) => e.epoch);
    };
    expect(await tested({})).toEqual([2, 4]);
    expect(await tested({ testEveryEpoch: true })).toEqual([1, 2, 3, 4]);
  }, 120_000);
});

test("SAM units have no pack key (the pack loop takes plain SGD steps), and the pack loop refuses SAM", async () => {
  const sam = tinyTrain(1, { optim: { epochs: 1, batchSize: 32, lr: 0.05, samRho: 0.05 } });
  const plain = tinyTrain(1);
  const keys = await packKeysOf([sam, plain]);
  expect(keys.get(sam.id)).toBeNull();
  expect(typeof keys.get(plain.id)).toBe("string");
  const optim = (sam.config as { optim: OptimConfig }).optim;
  await expect(
    trainPack({ makePack: () => Promise.reject(new Error("unused")), members: [], data: {} as never, optim, augment: { cropPadding: 0, flip: false } }),
  ).rejects.toThrow("SAM is not packed");
});

import { expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Fig2Config } from "../../src/config/generated/fig2.ts";
import type { TrainingConfig } from "../../src/config/generated/training.ts";
import { validateConfig } from "../../src/config/load.ts";
import { loadPresetConfig } from "../../src/config/presets.ts";
import { subStream, trainBatches } from "../../src/data/batches.ts";
import { makeSynthetic } from "../../src/data/synthetic.ts";
import { createPack, createTrainer } from "../../src/engine/registry.ts";
import { freshState } from "../../src/engine/state.ts";
import { cloneState, type Tensors } from "../../src/engine/types.ts";
import { planFig2 } from "../../src/experiments/fig2.ts";
import { buildModel } from "../../src/models/registry.ts";
import { trainPack } from "../../src/train/pack-loop.ts";
import { trainLoop } from "../../src/train/train-loop.ts";
import { optim as trainerSettings } from "../helpers/tiny-models.ts";

// Real (tiny) models train here.
setDefaultTimeout(60_000);

/**
 * Every run's data order and augmentation come from its seed and its named stream
 * (TrainingConfig.stream): two runs of one seed in different roles draw independent
 * orders, and repro:fig2 gives each role its own.
 */
const data = makeSynthetic({ count: 48, testCount: 8, channels: 3, size: 8, numClasses: 4, seed: 5 });
const spec = buildModel("preresnet20", { width: 4, inputShape: [3, 8, 8], numClasses: 4 });
const augment = { cropPadding: 2, flip: true };
const optim = { ...validateConfig<TrainingConfig>("training", {}).optim, epochs: 2, batchSize: 16, lr: 0.05 };
const engine = { engine: "onnx", provider: "cpu" } as const;
const order = (seed: number, stream?: string, epoch = 0) => {
  const loader = trainBatches(data, { batchSize: 48, seed, epoch, stream, augment, dropLast: false });
  const p = loader.plan(0);
  return [...p.indices].join() + "|" + [...p.shiftX].join() + "|" + [...p.mirror].join();
};

test("one seed, different streams: independent orders and augmentations; one stream: the same", () => {
  expect(order(1, "dense")).not.toBe(order(1));
  expect(order(1, "dense")).not.toBe(order(1, "retrain-of-dense-seed-1"));
  expect(order(1, "dense")).toBe(order(1, "dense"));
  expect(order(1)).toBe(order(1, undefined));
  expect(subStream(undefined, undefined)).toBeUndefined();
  expect(subStream("imp", undefined)).toBe("imp");
  expect(subStream(undefined, "bip-mask")).toBe("bip-mask");
  expect(subStream("bip", "bip-mask")).toBe("bip/bip-mask");
});

async function train(seed: number, stream: string | undefined, o: { checkpointPath?: string; stopAfterEpochs?: number } = {}): Promise<Tensors> {
  const trainer = await createTrainer(engine, { spec, ...trainerSettings, threads: 1 }, cloneState(freshState(spec, 7)));
  await trainLoop({ trainer, data, optim, augment, seed, stream, evalAt: () => false, ...o });
  const params = trainer.state.params;
  await trainer.dispose();
  return params;
}
const same = (a: Tensors, b: Tensors) => Object.keys(a).every((k) => a[k]!.every((v, i) => v === b[k]![i]));

test("trainLoop trains on its stream: another stream gives other weights from the same start, the same stream the same", async () => {
  const a = await train(1, "dense"),
    b = await train(1, "retrain-of-dense-seed-1"),
    a2 = await train(1, "dense"),
    d = await train(1, undefined);
  expect(same(a, a2)).toBe(true);
  expect(same(a, b)).toBe(false);
  expect(same(a, d)).toBe(false);
});

test("a packed member trains on its own stream, as it would alone", async () => {
  const alone = await train(2, "retrain-of-dense-seed-1");
  const [out] = await trainPack({
    makePack: (members) => createPack(engine, { spec, ...trainerSettings, threads: 1 }, members),
    members: [{ seed: 2, stream: "retrain-of-dense-seed-1", start: { state: cloneState(freshState(spec, 7)), masks: {} } }],
    data,
    optim,
    augment,
    evalAt: () => false,
  });
  expect(same(out!.final.state.params, alone)).toBe(true);
});

test("a resume checkpoint written on another stream is refused, naming both", async () => {
  const ck = join(mkdtempSync(join(tmpdir(), "streams-")), "ck.ckpt");
  await train(1, "dense", { checkpointPath: ck, stopAfterEpochs: 1 });
  await expect(train(1, "other", { checkpointPath: ck })).rejects.toThrow(/written with seed 1, stream "dense", this run uses seed 1, stream "other"/);
  // The same stream resumes.
  expect(Object.keys(await train(1, "dense", { checkpointPath: ck })).length).toBeGreaterThan(0);
});

test("repro:fig2 plans no two runs of different roles on one stream: dense runs, each retrain seed, each dense seed's retraining", () => {
  const cfg = loadPresetConfig<Fig2Config>("fig2", "fig2", "quick", ["seeds.dense=1,2"]);
  const { units } = planFig2(cfg, 2000);
  const rng = (u: { config: unknown }) => (u.config as { training: TrainingConfig }).training;
  const dense = units.filter((u) => u.kind === "dense").map(rng);
  const retrain = units.filter((u) => u.kind === "retrain").map(rng);
  expect(dense.map((t) => [t.seed, t.stream])).toEqual([
    [1, "dense"],
    [2, "dense"],
  ]);
  // Per dense seed, the retrain seeds' streams; each one stream across the grid's cells (common random numbers).
  const streams = new Set(retrain.map((t) => `${t.seed}/${t.stream}`));
  expect([...streams].sort()).toEqual([
    "1/retrain-of-dense-seed-1",
    "1/retrain-of-dense-seed-2",
    "2/retrain-of-dense-seed-1",
    "2/retrain-of-dense-seed-2",
    "3/retrain-of-dense-seed-1",
    "3/retrain-of-dense-seed-2",
  ]);
  // What matters: the orders drawn differ, the dense run's from every retrain seed's, epoch by epoch.
  const drawn = [...dense, ...retrain].map((t) => `${t.seed}/${t.stream}`);
  const firstEpochs = [...new Set(drawn)].map((k) => {
    const [seed, stream] = k.split("/") as [string, string];
    return order(+seed, stream);
  });
  expect(new Set(firstEpochs).size).toBe(firstEpochs.length);
});

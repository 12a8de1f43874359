import { expect, setDefaultTimeout, test } from "bun:test";
import { availableParallelism } from "node:os";
import type { TrainingConfig } from "../../src/config/generated/training.ts";
import { ConfigError, validateConfig } from "../../src/config/load.ts";
import { freshState } from "../../src/engine/state.ts";
import { checkBatchSize, engineChoice, loadData, modelFor, trainerFor, trainerOptions, trainImagesOf } from "../../src/train/setup.ts";
import { trainLoop } from "../../src/train/train-loop.ts";

setDefaultTimeout(30_000);

/** What a run builds from its config (src/train/setup.ts): data, model, trainer. */
const config = (over: Record<string, unknown> = {}) =>
  validateConfig<TrainingConfig>("training", {
    seed: 3,
    model: { arch: "preresnet20", width: 4 },
    data: { dataset: "synthetic", trainLimit: 40, testLimit: 12 },
    engine: { name: "onnx", provider: "cpu", threads: 1 },
    ...over,
  });

test("loadData: the config's dataset at its limits, normalised as it says", async () => {
  const data = await loadData(config());
  expect(data.train.count).toBe(40);
  expect(data.test.count).toBe(12);
  expect(data.train.images.length).toBe(40 * data.channels * data.height * data.width);
  const authors = await loadData(config({ data: { dataset: "synthetic", trainLimit: 40, testLimit: 12, normalization: "authors" } }));
  expect(authors.std).not.toEqual(data.std);
});

test("trainImagesOf: the loaded count when there is data, else the dataset's nominal size within trainLimit", async () => {
  const cfg = config();
  expect(trainImagesOf(cfg, { train: { count: 17, images: new Uint8Array(), labels: new Uint8Array() } })).toBe(17);
  expect(trainImagesOf(cfg)).toBe(40);
  expect(trainImagesOf(config({ data: { dataset: "cifar10" } }))).toBe(50_000);
  expect(trainImagesOf(config({ data: { dataset: "cifar10", trainLimit: 1000 } }), null)).toBe(1000);
});

test("checkBatchSize: a batch up to the training set passes; a larger one names the batch, the count and the setting that limits it", () => {
  const d = config().data;
  expect(() => checkBatchSize("optim.batchSize", 40, 40)).not.toThrow();
  expect(() => checkBatchSize("optim.batchSize", 41, 40)).toThrow(ConfigError);
  expect(() => checkBatchSize("dense.optim.batchSize", 64, 40, { path: "dense.data", cfg: d })).toThrow(
    "dense.optim.batchSize: 64 is larger than the 40 training images (dense.data.trainLimit=40); use a batch size of at most 40, or more training images",
  );
  // A trainLimit above the dataset's size is not what limits it: the dataset is.
  expect(() => checkBatchSize("optim.batchSize", 64, 40, { path: "data", cfg: { ...d, trainLimit: 100 } })).toThrow("(data.dataset=synthetic)");
  expect(() => checkBatchSize("optim.batchSize", 64, 40, { path: "data", cfg: { ...d, trainLimit: undefined } })).toThrow("(data.dataset=synthetic)");
  expect(() => checkBatchSize("optim.batchSize", 64, 40)).toThrow("64 is larger than the 40 training images; use");
});

test("modelFor and trainerOptions: the config's model on the data's shape; 0 threads means every core", async () => {
  const cfg = config({ optim: { momentum: 0.8, weightDecay: 1e-3, bnEps: 1e-4, bnMomentum: 0.2 } });
  const spec = modelFor(cfg, { channels: 1, height: 8, width: 8, numClasses: 7 });
  expect(spec.arch).toBe("preresnet20");
  expect(spec.inputShape).toEqual([1, 8, 8]);
  expect(spec.numClasses).toBe(7);
  // Width 4: the first conv is 4 x 1 x 3 x 3.
  expect(spec.params[0]!.shape).toEqual([4, 1, 3, 3]);
  const o = trainerOptions(cfg, spec);
  expect(o).toMatchObject({ sgd: { momentum: 0.8, weightDecay: 1e-3 }, bn: { eps: 1e-4, momentum: 0.2 }, threads: 1 });
  expect(trainerOptions(config({ engine: { name: "onnx", threads: 0 } }), spec).threads).toBe(availableParallelism());
  expect(trainerOptions(config({ engine: { name: "onnx", threads: 3 } }), spec).threads).toBe(3);
});

test("engineChoice carries the config's engine settings and the log", () => {
  const log = () => {};
  const c = engineChoice(config({ engine: { name: "torch", device: "cpu", python: "/usr/bin/python3", stepsPerRequest: 7 } }), log);
  expect(c).toMatchObject({ engine: "torch", device: "cpu", python: "/usr/bin/python3", stepsPerRequest: 7 });
  expect(c.log).toBe(log);
});

test("trainerFor: fresh weights from the config's seed, or the state given", async () => {
  const cfg = config();
  const spec = modelFor(cfg, { channels: 3, height: 8, width: 8, numClasses: 4 });
  const a = await trainerFor(cfg, spec, { threads: 1 });
  const other = freshState(spec, 99);
  const b = await trainerFor(cfg, spec, { state: other });
  try {
    expect(a.engine).toBe("onnx");
    expect(a.state.params[spec.params[0]!.name]).toEqual(freshState(spec, 3).params[spec.params[0]!.name]!);
    expect(b.state.params[spec.params[0]!.name]).toEqual(other.params[spec.params[0]!.name]!);
  } finally {
    await a.dispose();
    await b.dispose();
  }
});

test("model.depth: a PreResNet-32 builds from the config (33 convs: stem, 2 x 15 blocks, 2 projections) and trains", async () => {
  const cfg = config({ model: { arch: "preresnet20", width: 2, depth: 32 }, optim: { epochs: 1, batchSize: 20, lr: 0.05 } });
  const data = await loadData(cfg);
  const spec = modelFor(cfg, data);
  expect(spec.arch).toBe("preresnet32");
  expect(spec.params.filter((p) => p.shape.length === 4)).toHaveLength(33);
  const trainer = await trainerFor(cfg, spec);
  try {
    const out = await trainLoop({ trainer, data, optim: cfg.optim, augment: cfg.data, seed: cfg.seed });
    expect(out.status).toBe("done");
    expect(Number.isFinite(out.epochs[0]!.trainLoss)).toBe(true);
  } finally {
    await trainer.dispose();
  }
  expect(() => modelFor(config({ model: { arch: "vgg16", width: 2, depth: 32 } }), data)).toThrow("model.depth: vgg16 has a fixed depth");
});

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TrainingConfig } from "../../src/config/generated/training.ts";
import { validateConfig } from "../../src/config/load.ts";
import { makeSynthetic } from "../../src/data/synthetic.ts";
import { prunableLayers } from "../../src/models/spec.ts";
import { CheckpointError, loadCheckpoint, saveCheckpoint } from "../../src/train/checkpoint.ts";
import { modelFor, trainerFor } from "../../src/train/setup.ts";
import { trainLoop } from "../../src/train/train-loop.ts";
import { Rng } from "../../src/util/rng.ts";

// Real training runs (about 2 s each on a quiet machine): the 5 s default is too tight in a loaded CI container.
setDefaultTimeout(60_000);

const data = makeSynthetic({ count: 96, testCount: 48, channels: 3, size: 8, numClasses: 4, seed: 3 });

function config(over: Record<string, unknown> = {}): TrainingConfig {
  return validateConfig<TrainingConfig>("training", {
    seed: 5,
    model: { arch: "preresnet20", width: 4 },
    data: { dataset: "synthetic", cropPadding: 1 },
    optim: { epochs: 3, batchSize: 32, lr: 0.05 },
    engine: { name: "onnx", provider: "cpu", threads: 2 },
    ...over,
  });
}

async function run(cfg: TrainingConfig, o: { checkpointPath?: string; stopAfterEpochs?: number; masks?: boolean } = {}) {
  const spec = modelFor(cfg, data);
  const trainer = await trainerFor(cfg, spec);
  if (o.masks) {
    for (const l of prunableLayers(spec)) {
      const rng = new Rng(1, l.name);
      trainer.masks[l.name] = trainer.masks[l.name]!.map(() => (rng.next() < 0.5 ? 0 : 1));
    }
  }
  const outcome = await trainLoop({
    trainer,
    data,
    optim: cfg.optim,
    augment: cfg.data,
    seed: cfg.seed,
    checkpointPath: o.checkpointPath,
    stopAfterEpochs: o.stopAfterEpochs,
  });
  return { trainer, outcome };
}

function sameTensors(a: Record<string, Float32Array>, b: Record<string, Float32Array>): boolean {
  return Object.keys(a).every((k) =>
    Buffer.from(a[k]!.buffer, a[k]!.byteOffset, a[k]!.byteLength).equals(Buffer.from(b[k]!.buffer, b[k]!.byteOffset, b[k]!.byteLength)),
  );
}

describe("training loop", () => {
  test("learns the synthetic task: loss falls and test accuracy beats chance", async () => {
    const { outcome } = await run(config({ optim: { epochs: 8, batchSize: 16, lr: 0.05 } }));
    expect(outcome.status).toBe("done");
    const e = outcome.epochs;
    expect(e.at(-1)!.trainLoss).toBeLessThan(e[0]!.trainLoss);
    expect(e.at(-1)!.testAccuracy!).toBeGreaterThan(0.5);
  });

  test("same seed, engine, provider and threads give bit-identical weights", async () => {
    const a = await run(config());
    const b = await run(config());
    expect(sameTensors(a.trainer.state.params, b.trainer.state.params)).toBe(true);
    const c = await run(config({ seed: 6 }));
    expect(sameTensors(a.trainer.state.params, c.trainer.state.params)).toBe(false);
  });

  test("resuming from a checkpoint gives the same final weights as an uninterrupted run", async () => {
    const dir = mkdtempSync(join(tmpdir(), "resume-"));
    const whole = await run(config(), { masks: true });
    const ck = join(dir, "run.ckpt");
    const first = await run(config(), { checkpointPath: ck, stopAfterEpochs: 1, masks: true });
    expect(first.outcome.epochs.length).toBe(1);
    // A new process would start from scratch: new trainer, fresh weights, state from the file.
    const rest = await run(config(), { checkpointPath: ck });
    expect(rest.outcome.resumedFrom).toBe(1);
    expect(rest.outcome.epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
    for (const g of ["params", "momentum", "buffers"] as const) expect(sameTensors(whole.trainer.state[g], rest.trainer.state[g])).toBe(true);
    expect(sameTensors(whole.trainer.masks, rest.trainer.masks)).toBe(true);
  });

  test("masked weights are exactly zero after training and stay zero", async () => {
    const { trainer } = await run(config(), { masks: true });
    let zeros = 0;
    for (const [name, mask] of Object.entries(trainer.masks)) {
      const w = trainer.state.params[name]!;
      mask.forEach((m, i) => {
        if (m === 0) {
          expect(Object.is(w[i], 0) || Object.is(w[i], -0)).toBe(true);
          zeros++;
        }
      });
    }
    expect(zeros).toBeGreaterThan(1000);
  });

  test("a diverging run stops with a record of where, not a crash", async () => {
    const { outcome } = await run(config({ optim: { epochs: 3, batchSize: 32, lr: 1e30 } }));
    expect(outcome.status).toBe("diverged");
    if (outcome.status === "diverged") {
      expect(outcome.divergedAt.epoch).toBe(1);
      expect(Number.isFinite(outcome.divergedAt.loss)).toBe(false);
    }
  });
});

describe("checkpoint files", () => {
  const ckpt = {
    epoch: 2,
    state: { params: { a: new Float32Array([1, 2, 3]) }, buffers: { b: new Float32Array([4]) }, momentum: { a: new Float32Array([0.5, 0, -1]) } },
    masks: { a: new Float32Array([1, 0, 1]) },
    rng: { seed: 9 },
    meta: { note: "x" },
  };

  test("round-trip exactly", () => {
    const p = join(mkdtempSync(join(tmpdir(), "ck-")), "a.ckpt");
    saveCheckpoint(p, ckpt);
    const back = loadCheckpoint(p);
    expect(back.epoch).toBe(2);
    expect(back.rng.seed).toBe(9);
    expect([...back.state.momentum.a!]).toEqual([0.5, 0, -1]);
    expect([...back.masks.a!]).toEqual([1, 0, 1]);
  });

  test("truncated or corrupted files are detected, naming the file", () => {
    const p = join(mkdtempSync(join(tmpdir(), "ck-")), "b.ckpt");
    saveCheckpoint(p, ckpt);
    const bytes = readFileSync(p);
    writeFileSync(p, bytes.subarray(0, bytes.length - 4));
    expect(() => loadCheckpoint(p)).toThrow(/b\.ckpt: truncated/);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 1]! ^= 0xff;
    writeFileSync(p, flipped);
    expect(() => loadCheckpoint(p)).toThrow(CheckpointError);
    expect(() => loadCheckpoint(p)).toThrow(/checksum/);
  });
});

test("a damaged resume checkpoint is set aside and the run starts over, to the weights of an uninterrupted run", async () => {
  const dir = mkdtempSync(join(tmpdir(), "resume-bad-"));
  const ck = join(dir, "run.ckpt");
  await run(config(), { checkpointPath: ck, stopAfterEpochs: 1 });
  const bytes = readFileSync(ck);
  bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
  writeFileSync(ck, bytes);
  const whole = await run(config());
  const again = await run(config(), { checkpointPath: ck });
  expect(again.outcome.resumedFrom).toBe(0);
  expect(again.outcome.epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
  expect(sameTensors(whole.trainer.state.params, again.trainer.state.params)).toBe(true);
  expect(readFileSync(`${ck}.corrupt`).equals(bytes)).toBe(true);
});

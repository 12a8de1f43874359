import { describe, expect, test } from "bun:test";
import { OnnxTrainer } from "../../src/engine/onnx/onnx-trainer.ts";
import { createTrainer } from "../../src/engine/registry.ts";
import { freshState } from "../../src/engine/state.ts";
import { cloneState, type Trainer } from "../../src/engine/types.ts";
import type { ModelSpec } from "../../src/models/spec.ts";
import { maxRelDiff, optim, randomBatch, TEST_EP, tinySpecs, setRandomMasks, zooSpecs, parityTolerance, parityComparesSteps } from "../helpers/tiny-models.ts";

async function pair(spec: ModelSpec): Promise<[Trainer, Trainer]> {
  const state = freshState(spec, 7);
  const onnx = await OnnxTrainer.create({ spec, ...optim, threads: 1, provider: TEST_EP }, cloneState(state));
  expect(onnx.provider).toBe(TEST_EP);
  const tfjs = await createTrainer({ engine: "tfjs", tfjsBackend: "cpu" }, { spec, ...optim }, cloneState(state));
  return [onnx, tfjs];
}

for (const spec of [...tinySpecs(), ...zooSpecs()]) {
  const TOL = parityTolerance(spec);
  // Test timeouts of 60 s: the JS oracle takes seconds on the zoo's models.
  describe(`ONNX engine (${TEST_EP} EP) vs TensorFlow.js cpu oracle: ${spec.arch} (to ${TOL})`, () => {
    test("same loss and gradients for the same weights and batch", async () => {
      const [onnx, tfjs] = await pair(spec);
      setRandomMasks([onnx, tfjs], 3);
      const batch = randomBatch(onnx.spec, 6, 11);
      const a = await onnx.gradients(batch);
      const b = await tfjs.gradients(batch);
      expect(Math.abs(a.loss - b.loss)).toBeLessThan(TOL);
      for (const p of onnx.spec.params) {
        const d = maxRelDiff(a.grads[p.name]!, b.grads[p.name]!);
        if (d > TOL) throw new Error(`gradient of ${p.name} differs by ${d}`);
      }
      for (const [name, v] of Object.entries(a.buffers)) expect(maxRelDiff(v, b.buffers[name]!)).toBeLessThan(TOL);
    }, 60_000);

    test("same batch statistics (BN means and unbiased variances) in training mode", async () => {
      const [onnx, tfjs] = await pair(spec);
      setRandomMasks([onnx, tfjs], 4);
      const batch = randomBatch(onnx.spec, 5, 12);
      const a = await onnx.batchStats(batch.x, 5);
      const b = await tfjs.batchStats(batch.x, 5);
      expect(Object.keys(a).sort()).toEqual(onnx.spec.buffers.map((x) => x.name).sort());
      for (const [name, v] of Object.entries(a)) {
        const d = maxRelDiff(v, b[name]!);
        if (d > TOL) throw new Error(`${name} differs by ${d}`);
      }
    }, 60_000);

    test.skipIf(!parityComparesSteps(spec))(
      "same updated weights, momentum and BN statistics after three masked SGD steps",
      async () => {
        const [onnx, tfjs] = await pair(spec);
        setRandomMasks([onnx, tfjs], 5);
        for (let step = 0; step < 3; step++) {
          const batch = randomBatch(onnx.spec, 6, 100 + step);
          const ra = await onnx.trainStep(batch, 0.05);
          const rb = await tfjs.trainStep(batch, 0.05);
          expect(Math.abs(ra.loss - rb.loss)).toBeLessThan(TOL);
          expect(ra.correct).toBe(rb.correct);
        }
        for (const kind of ["params", "momentum", "buffers"] as const) {
          for (const [name, v] of Object.entries(onnx.state[kind])) {
            const d = maxRelDiff(v, tfjs.state[kind][name]!);
            if (d > TOL) throw new Error(`${kind} ${name} differs by ${d}`);
          }
        }
        const batch = randomBatch(onnx.spec, 4, 999);
        expect(maxRelDiff(await onnx.predict(batch.x, 4), await tfjs.predict(batch.x, 4))).toBeLessThan(TOL);
      },
      60_000,
    );
  });
}

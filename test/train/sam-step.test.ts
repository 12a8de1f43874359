import { expect, test } from "bun:test";
import { createTrainer } from "../../src/engine/registry.ts";
import { freshState } from "../../src/engine/state.ts";
import { cloneState } from "../../src/engine/types.ts";
import { prunableLayers } from "../../src/models/spec.ts";
import { samStep } from "../../src/train/sam.ts";
import { SpecBuilder } from "../../src/models/spec.ts";
import { maxRelDiff, optim, randomBatch, tinySpecs } from "../helpers/tiny-models.ts";

test("with a vanishing radius a SAM step is an SGD step; masked weights stay zero", async () => {
  const spec = tinySpecs()[0]!;
  const st = freshState(spec, 2);
  const a = await createTrainer({ engine: "onnx", provider: "cpu" }, { spec, ...optim, threads: 1 }, cloneState(st));
  const b = await createTrainer({ engine: "onnx", provider: "cpu" }, { spec, ...optim, threads: 1 }, cloneState(st));
  const layer = prunableLayers(spec)[1]!.name;
  const mask = a.masks[layer]!.map((_, i) => (i % 3 === 0 ? 0 : 1));
  a.masks[layer] = mask;
  b.masks[layer] = mask.slice();
  const batch = randomBatch(spec, 6, 3);
  const sgd = await a.trainStep(batch, 0.05);
  const sam = await samStep(b, batch, 0.05, 1e-9, optim.sgd);
  // The step reports the loss and correct count at the weights it started from, as an SGD step does.
  expect(sam.loss).toBeCloseTo(sgd.loss, 5);
  expect(sam.correct).toBe(sgd.correct);
  for (const [k, v] of Object.entries(a.state.params)) expect(maxRelDiff(b.state.params[k]!, v)).toBeLessThan(1e-5);
  for (const [k, v] of Object.entries(a.state.buffers)) expect(maxRelDiff(b.state.buffers[k]!, v)).toBeLessThan(1e-5);
  b.state.params[layer]!.forEach((w, i) => mask[i] === 0 && expect(Math.abs(w)).toBe(0));
});

test("a SAM step uses the gradient at the perturbed point: it differs from SGD when rho > 0", async () => {
  const spec = tinySpecs()[0]!;
  const st = freshState(spec, 2);
  const a = await createTrainer({ engine: "onnx", provider: "cpu" }, { spec, ...optim, threads: 1 }, cloneState(st));
  const b = await createTrainer({ engine: "onnx", provider: "cpu" }, { spec, ...optim, threads: 1 }, cloneState(st));
  const batch = randomBatch(spec, 6, 3);
  await a.trainStep(batch, 0.05);
  // The same SAM step computed on the TensorFlow.js oracle's gradients.
  const c = await createTrainer({ engine: "tfjs", tfjsBackend: "cpu" }, { spec, ...optim }, cloneState(st));
  await samStep(b, batch, 0.05, 0.5, optim.sgd);
  await samStep(c, batch, 0.05, 0.5, optim.sgd);
  const name = prunableLayers(spec)[2]!.name;
  expect(maxRelDiff(b.state.params[name]!, a.state.params[name]!)).toBeGreaterThan(1e-4);
  for (const [k, v] of Object.entries(c.state.params)) expect(maxRelDiff(b.state.params[k]!, v)).toBeLessThan(1e-4);
}, 30_000);

/** Loss gradients of softmax regression on pooled inputs, in float64: d/dz of mean cross-entropy is (softmax - onehot) / N. */
function linearGrads(W: number[][], b: number[], h: number[][], y: number[]) {
  const gW = W.map((r) => r.map(() => 0)),
    gb = b.map(() => 0);
  h.forEach((hi, n) => {
    const z = W.map((r, k) => r.reduce((s, w, j) => s + w * hi[j]!, b[k]!));
    const m = Math.max(...z),
      e = z.map((v) => Math.exp(v - m)),
      sum = e.reduce((a, c) => a + c, 0);
    e.forEach((v, k) => {
      const dz = (v / sum - (k === y[n] ? 1 : 0)) / h.length;
      gb[k]! += dz;
      hi.forEach((x, j) => (gW[k]![j]! += dz * x));
    });
  });
  return { gW, gb };
}

test("a SAM step on softmax regression matches the step worked out by hand (perturbation, second gradient, SGD with momentum and decay)", async () => {
  const b = new SpecBuilder([2, 2, 2]);
  const out = b.fc(b.gap(b.input), "fc", 3, { weightInit: { kind: "normal", std: 0.7 }, biasInit: { kind: "normal", std: 0.3 } });
  const spec = b.build("softmax-regression", out, 3);
  const st = freshState(spec, 4);
  st.momentum["fc.weight"] = st.params["fc.weight"]!.map((_, i) => 0.01 * (i - 2));
  const trainer = await createTrainer({ engine: "onnx", provider: "cpu" }, { spec, ...optim, threads: 1 }, cloneState(st));
  const batch = randomBatch(spec, 5, 8);
  const [lr, rho] = [0.1, 0.3];
  await samStep(trainer, batch, lr, rho, optim.sgd);

  const h = Array.from({ length: batch.size }, (_, n) => [0, 1].map((c) => [0, 1, 2, 3].reduce((s, p) => s + batch.x[n * 8 + c * 4 + p]!, 0) / 4));
  const W = [0, 1, 2].map((k) => [0, 1].map((j) => st.params["fc.weight"]![k * 2 + j]!));
  const bias = [...st.params["fc.bias"]!];
  const g1 = linearGrads(W, bias, h, Array.from(batch.y));
  const norm = Math.sqrt([...g1.gW.flat(), ...g1.gb].reduce((s, v) => s + v * v, 0));
  const g2 = linearGrads(
    W.map((r, k) => r.map((w, j) => w + (rho * g1.gW[k]![j]!) / norm)),
    bias.map((v, k) => v + (rho * g1.gb[k]!) / norm),
    h,
    Array.from(batch.y),
  );
  const { momentum: mom, weightDecay: wd } = optim.sgd;
  const expectW = W.flatMap((r, k) => r.map((w, j) => w - lr * (mom * st.momentum["fc.weight"]![k * 2 + j]! + g2.gW[k]![j]! + wd * w)));
  const expectB = bias.map((v, k) => v - lr * (mom * st.momentum["fc.bias"]![k]! + g2.gb[k]! + wd * v));
  expect(maxRelDiff(trainer.state.params["fc.weight"]!, Float32Array.from(expectW))).toBeLessThan(1e-5);
  expect(maxRelDiff(trainer.state.params["fc.bias"]!, Float32Array.from(expectB))).toBeLessThan(1e-5);
  // And it is not the plain SGD step: the perturbation mattered.
  const sgdW = W.flatMap((r, k) => r.map((w, j) => w - lr * (mom * st.momentum["fc.weight"]![k * 2 + j]! + g1.gW[k]![j]! + wd * w)));
  expect(maxRelDiff(Float32Array.from(sgdW), Float32Array.from(expectW))).toBeGreaterThan(1e-4);
});

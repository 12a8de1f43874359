import { expect, test } from "bun:test";
import { createTrainer } from "../../src/engine/registry.ts";
import { freshState } from "../../src/engine/state.ts";
import { cloneState } from "../../src/engine/types.ts";
import { prunableLayers } from "../../src/models/spec.ts";
import { samStep } from "../../src/train/sam.ts";
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
  await a.trainStep(batch, 0.05);
  await samStep(b, batch, 0.05, 1e-9, optim.sgd);
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

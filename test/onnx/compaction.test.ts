import { expect, test } from "bun:test";
import { createTrainer } from "../../src/engine/registry.ts";
import { freshState } from "../../src/engine/state.ts";
import type { Tensors } from "../../src/engine/types.ts";
import type { ModelSpec } from "../../src/models/spec.ts";
import { compactModel } from "../../src/onnx/compact.ts";
import { exportInferenceModel, runOnce } from "../../src/onnx/export.ts";
import { countMacs } from "../../src/onnx/flops.ts";
import { blockChannelMasks, chainedConvPairs } from "../../src/prune/channels.ts";
import { maxRelDiff, optim, randomBatch, tinySpecs } from "../helpers/tiny-models.ts";

/** The exported model's logits on `n` images of `spec`'s input shape. */
const run = (bytes: Uint8Array, spec: ModelSpec, x: Float32Array, n: number) => runOnce(bytes, x, [n, ...spec.inputShape]);

/** A briefly trained model, so BN statistics and biases are not at their initial values. */
async function trained(spec: ModelSpec) {
  const t = await createTrainer({ engine: "onnx", provider: "cpu" }, { spec, ...optim, threads: 1 }, freshState(spec, 5));
  for (let i = 0; i < 3; i++) await t.trainStep(randomBatch(spec, 8, i), 0.05);
  const state = t.state;
  await t.dispose();
  return state;
}

/** Zero whole output filters `which(f, cout)` of the named convs (filter-wise masks as BiP's structured variant makes). */
function filterMasks(spec: ModelSpec, convs: string[], which: (f: number, cout: number) => boolean): Tensors {
  const m: Tensors = {};
  for (const p of spec.params.filter((p) => convs.includes(p.name))) {
    const [cout, cin, k] = p.shape as [number, number, number];
    const per = cin * k * k;
    m[p.name] = Float32Array.from({ length: cout * per }, (_, i) => (which(Math.floor(i / per), cout) ? 0 : 1));
  }
  return m;
}

/** Exported masked model and exported compact model give the same logits; the compact one does less work. */
async function expectSameOutputs(spec: ModelSpec, masks: Tensors) {
  const state = await trained(spec);
  const masked = exportInferenceModel(spec, state, masks, { bnEps: optim.bn.eps, metadata: {} });
  const c = compactModel(spec, state.params, state.buffers, masks, { bnEps: optim.bn.eps });
  const compact = exportInferenceModel(c.spec, { params: c.params, buffers: c.buffers }, {}, { bnEps: optim.bn.eps, metadata: {} });
  const batch = randomBatch(spec, 6, 9);
  const a = await run(masked, spec, batch.x, 6);
  const b = await run(compact, c.spec, batch.x, 6);
  expect(maxRelDiff(b, a)).toBeLessThan(1e-5);
  // The TensorFlow.js oracle runs the compact spec (new op kinds included) to the same logits.
  const oracle = await createTrainer(
    { engine: "tfjs", tfjsBackend: "cpu" },
    { spec: c.spec, ...optim },
    { params: c.params, buffers: c.buffers, momentum: {} },
  );
  expect(maxRelDiff(await oracle.predict(batch.x, 6), a)).toBeLessThan(1e-4);
  expect(countMacs(c.spec).dense).toBeLessThan(countMacs(spec).dense);
  return c;
}

for (const spec of tinySpecs()) {
  test(`${spec.arch}: removing blocks' inner channels (L1-norm filter pruning) keeps the outputs and shrinks both convs`, async () => {
    const pairs = chainedConvPairs(spec);
    expect(pairs.length).toBe(9); // one per residual block of a depth-20 network
    const masks = blockChannelMasks(spec, (await trained(spec)).params, 0.5);
    const c = await expectSameOutputs(spec, masks);
    expect(c.foldedChannels).toBe(0);
    for (const { producer, consumer } of pairs) {
      const prod = c.spec.params.find((p) => p.name === producer.weight)!.shape;
      const cons = c.spec.params.find((p) => p.name === consumer.weight)!.shape;
      expect(prod[0]).toBe(Math.round(producer.cout / 2));
      expect(cons[1]).toBe(Math.round(producer.cout / 2));
    }
  }, 60_000);

  test(`${spec.arch}: pruned filters whose BN/ReLU output is a non-zero constant are folded into the next conv, exactly`, async () => {
    const inner = chainedConvPairs(spec).map((p) => p.producer.weight);
    const masks = filterMasks(spec, inner, (f) => f % 2 === 0);
    const c = await expectSameOutputs(spec, masks);
    expect(c.foldedChannels).toBeGreaterThan(0);
    expect(c.spec.ops.some((o) => o.kind === "add-const")).toBe(true);
  }, 60_000);

  test(`${spec.arch}: a last-stage residual channel that every producer prunes is removed from the stream, its shortcut and the classifier`, async () => {
    // The channel must be dead in every conv writing to the last stage's stream (and, for option A, lie in the shortcut's zero padding).
    const last = spec.params
      .filter((p) => p.name.startsWith("layer3.") && (p.name.endsWith("conv2.weight") || p.name.includes("downsample")))
      .map((p) => p.name);
    const masks = filterMasks(spec, last, (f) => f === 0);
    const c = await expectSameOutputs(spec, masks);
    const fc = c.spec.ops.find((o) => o.kind === "fc")!;
    expect(fc.kind === "fc" && fc.fin).toBe(15);
    if (spec.arch.startsWith("resnet")) expect(c.spec.ops.some((o) => o.kind === "channel-gather")).toBe(true);
  }, 60_000);
}

test("an unprunable pattern (a stream channel that a live shortcut feeds) is left in place, not approximated", async () => {
  const spec = tinySpecs()[0]!;
  const masks = filterMasks(spec, ["conv1.weight"], (f) => f === 1); // the stem's channel 1 still receives every block's output
  const state = await trained(spec);
  const c = compactModel(spec, state.params, state.buffers, masks, { bnEps: optim.bn.eps });
  expect(c.removedConvChannels).toBe(0);
  expect(countMacs(c.spec).dense).toBe(countMacs(spec).dense);
}, 30_000);

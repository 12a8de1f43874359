import { expect, test } from "bun:test";
import { createTrainer } from "../../src/engine/registry.ts";
import { freshState } from "../../src/engine/state.ts";
import type { ModelSpec } from "../../src/models/spec.ts";
import { prunableLayers } from "../../src/models/spec.ts";
import { compactModel } from "../../src/onnx/compact.ts";
import { exportInferenceModel, runOnce } from "../../src/onnx/export.ts";
import { countMacs } from "../../src/onnx/flops.ts";
import { blockChannelMasks, chainedConvPairs } from "../../src/prune/channels.ts";
import { Rng } from "../../src/util/rng.ts";
import { maxRelDiff, optim, parityTolerance, randomBatch, zooSpecs } from "../helpers/tiny-models.ts";

/** The exported model's logits on `n` images of `spec`'s input shape. */
const logits = (bytes: Uint8Array, spec: ModelSpec, x: Float32Array, n: number) => runOnce(bytes, x, [n, ...spec.inputShape]);

// The model zoo (ResNet-18, VGG-16-BN, ResNet-50, ResNet-56) through export and structural
// compaction: max-pool, flatten, projection shortcuts and bottlenecks included.
for (const spec of zooSpecs()) {
  test(`${spec.arch}: the exported (masked) model gives the TF.js oracle's logits; L1 filter pruning compacts it to the same logits with fewer MACs`, async () => {
    const trainer = await createTrainer({ engine: "onnx", provider: "cpu" }, { spec, ...optim, threads: 1 }, freshState(spec, 3));
    for (const l of prunableLayers(spec)) {
      const rng = new Rng(2, l.name);
      trainer.masks[l.name] = trainer.masks[l.name]!.map(() => (rng.next() < 0.4 ? 0 : 1));
    }
    for (let i = 0; i < 2; i++) await trainer.trainStep(randomBatch(spec, 4, i), 0.02);
    const state = trainer.state,
      masks = { ...trainer.masks };
    await trainer.dispose();
    const batch = randomBatch(spec, 3, 77);
    const exported = await logits(exportInferenceModel(spec, state, masks, { bnEps: optim.bn.eps, metadata: {} }), spec, batch.x, 3);
    const oracle = await createTrainer({ engine: "tfjs", tfjsBackend: "cpu" }, { spec, ...optim }, state);
    for (const [k, m] of Object.entries(masks)) oracle.masks[k] = m;
    expect(maxRelDiff(exported, await oracle.predict(batch.x, 3))).toBeLessThan(parityTolerance(spec));

    // Structured: half the inner channels of every chained conv pair, then compaction.
    expect(chainedConvPairs(spec).length).toBeGreaterThan(0);
    const structured = blockChannelMasks(spec, state.params, 0.5);
    const masked = await logits(exportInferenceModel(spec, state, structured, { bnEps: optim.bn.eps, metadata: {} }), spec, batch.x, 3);
    const c = compactModel(spec, state.params, state.buffers, structured, { bnEps: optim.bn.eps });
    const compact = await logits(
      exportInferenceModel(c.spec, { params: c.params, buffers: c.buffers }, {}, { bnEps: optim.bn.eps, metadata: {} }),
      c.spec,
      batch.x,
      3,
    );
    expect(maxRelDiff(compact, masked)).toBeLessThan(1e-4);
    expect(countMacs(c.spec).dense).toBeLessThan(countMacs(spec).dense);
  }, 120_000);
}

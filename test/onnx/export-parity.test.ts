import { expect, test } from "bun:test";
import { onnx } from "onnx-proto";
import * as ort from "onnxruntime-node";
import { createTrainer } from "../../src/engine/registry.ts";
import { freshState } from "../../src/engine/state.ts";
import { cloneState } from "../../src/engine/types.ts";
import { prunableLayers } from "../../src/models/spec.ts";
import { ExportParityError, exportChecked, exportInferenceModel } from "../../src/onnx/export.ts";
import { compactModel } from "../../src/onnx/compact.ts";
import { blockChannelMasks } from "../../src/prune/channels.ts";
import { globalMagnitudeMasks } from "../../src/prune/magnitude.ts";
import { Rng } from "../../src/util/rng.ts";
import { maxRelDiff, optim, randomBatch, tinySpecs } from "../helpers/tiny-models.ts";

for (const spec of tinySpecs()) {
  test(`${spec.arch}: the exported model matches the TensorFlow.js engine on the same (masked) weights, at any batch size`, async () => {
    // Train two steps so BN statistics and weights are not at their initial values.
    const trainer = await createTrainer({ engine: "onnx", provider: "cpu" }, { spec, ...optim, threads: 1 }, freshState(spec, 3));
    for (const l of prunableLayers(spec)) {
      const rng = new Rng(2, l.name);
      trainer.masks[l.name] = trainer.masks[l.name]!.map(() => (rng.next() < 0.6 ? 0 : 1));
    }
    for (let i = 0; i < 2; i++) await trainer.trainStep(randomBatch(spec, 8, i), 0.05);
    const bytes = exportInferenceModel(spec, trainer.state, trainer.masks, { bnEps: optim.bn.eps, metadata: { density: "0.4", dataset: "synthetic" } });
    const oracle = await createTrainer({ engine: "tfjs", tfjsBackend: "cpu" }, { spec, ...optim }, cloneState(trainer.state));
    for (const [k, m] of Object.entries(trainer.masks)) oracle.masks[k] = m;
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ["cpu"] });
    expect(session.inputNames).toEqual(["x"]);
    expect(session.outputNames).toEqual(["logits"]);
    const [c, h, w] = spec.inputShape;
    for (const n of [1, 5]) {
      const batch = randomBatch(spec, n, 40 + n);
      const out = (await session.run({ x: new ort.Tensor("float32", batch.x, [n, c, h, w]) })).logits!;
      expect(out.dims).toEqual([n, spec.numClasses]);
      expect(maxRelDiff(out.data as Float32Array, await oracle.predict(batch.x, n))).toBeLessThan(1e-4);
    }
    // Re-reading the file: metadata, weights as initializers with pruned weights stored as zeros.
    const model = onnx.ModelProto.decode(bytes);
    const meta = Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
    expect(meta).toEqual({ architecture: spec.arch, density: "0.4", dataset: "synthetic" });
    // Standard ops only, at opset 17 (no ORT-specific domain, nothing left over from the training graph).
    expect(model.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([["", 17]]);
    expect((model.graph!.node ?? []).some((n) => n.opType === "Shape")).toBe(false);
    const first = prunableLayers(spec)[0]!.name;
    const init = model.graph!.initializer!.find((t) => t.name === `param/${first}`)!;
    const stored = new Float32Array(new Uint8Array(init.rawData!).buffer);
    trainer.masks[first]!.forEach((m, i) => m === 0 && expect(stored[i]).toBe(0));
    await session.release();
  }, 30_000);
}

test("every model kind (dense, masked, structurally compacted) passes the export parity check, and a failed check throws", async () => {
  for (const spec of tinySpecs()) {
    const trainer = await createTrainer({ engine: "onnx", provider: "cpu" }, { spec, ...optim, threads: 1 }, freshState(spec, 4));
    for (let i = 0; i < 2; i++) await trainer.trainStep(randomBatch(spec, 8, i), 0.05);
    const state = trainer.state;
    await trainer.dispose();
    const check = { bnEps: optim.bn.eps, metadata: {}, parityBatch: 3, tolerance: 1e-4, seed: 1 };
    const unstructured = globalMagnitudeMasks(
      state.params,
      prunableLayers(spec).map((l) => l.name),
      0.3,
    );
    const structured = blockChannelMasks(spec, state.params, 0.5);
    const c = compactModel(spec, state.params, state.buffers, structured, { bnEps: optim.bn.eps });
    const diffs: number[] = [];
    for (const [s, st, m] of [
      [spec, state, {}],
      [spec, state, unstructured],
      [c.spec, { params: c.params, buffers: c.buffers }, {}],
    ] as const) {
      const r = await exportChecked(s, st, m, check);
      expect(r.maxAbsDiff).toBeLessThanOrEqual(1e-4);
      diffs.push(r.maxAbsDiff);
    }
    const d = Math.max(...diffs);
    if (d > 0) await expect(exportChecked(spec, state, {}, { ...check, tolerance: d / 1e6 })).rejects.toBeInstanceOf(ExportParityError);
  }
}, 60_000);

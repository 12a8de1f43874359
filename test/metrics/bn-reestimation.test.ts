import { expect, test } from "bun:test";
import { OnnxTrainer } from "../../src/engine/onnx/onnx-trainer.ts";
import { freshState } from "../../src/engine/state.ts";
import { reestimateBatchNorm } from "../../src/metrics/bn-reestimate.ts";
import { SpecBuilder } from "../../src/models/spec.ts";
import { Rng } from "../../src/util/rng.ts";
import { optim } from "../helpers/tiny-models.ts";

test("BN re-estimation equals hand-computed batch-size-weighted means and unbiased variances", async () => {
  // input -> BN -> pool -> fc: the BN sees the raw images, so its statistics are computable by hand.
  const b = new SpecBuilder([2, 3, 3]);
  const out = b.fc(b.gap(b.bn(b.input, "bn")), "fc", 2, { weightInit: { kind: "const", value: 0.1 }, biasInit: { kind: "const", value: 0 } });
  const spec = b.build("bn-only", out, 2);
  const trainer = await OnnxTrainer.create({ spec, ...optim, threads: 1 }, freshState(spec, 1));
  const rng = new Rng(5, "bn");
  const sizes = [3, 5];
  const batches = sizes.map((size) => ({ x: Float32Array.from({ length: size * 18 }, () => rng.normal() * 2 + 1), y: new Array(size).fill(0), size }));
  await reestimateBatchNorm(trainer, batches);
  for (let c = 0; c < 2; c++) {
    let meanAcc = 0,
      varAcc = 0;
    for (const bt of batches) {
      const vals: number[] = [];
      for (let n = 0; n < bt.size; n++) for (let i = 0; i < 9; i++) vals.push(bt.x[n * 18 + c * 9 + i]!);
      const m = vals.reduce((s, v) => s + v, 0) / vals.length;
      const v = vals.reduce((s, x) => s + (x - m) ** 2, 0) / (vals.length - 1);
      meanAcc += bt.size * m;
      varAcc += bt.size * v;
    }
    expect(trainer.state.buffers["bn.running_mean"]![c]!).toBeCloseTo(meanAcc / 8, 4);
    expect(trainer.state.buffers["bn.running_var"]![c]!).toBeCloseTo(varAcc / 8, 4);
  }
});

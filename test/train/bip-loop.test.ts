import { describe, expect, test } from "bun:test";
import type { BipBenchConfig } from "../../src/config/generated/bip-bench.ts";
import type { BipConfig } from "../../src/config/generated/bip.ts";
import { validateConfig } from "../../src/config/load.ts";
import { makeSynthetic } from "../../src/data/synthetic.ts";
import { OnnxTrainer } from "../../src/engine/onnx/onnx-trainer.ts";
import { freshState } from "../../src/engine/state.ts";
import { cloneState } from "../../src/engine/types.ts";
import { reestimateBatchNorm } from "../../src/metrics/bn-reestimate.ts";
import { buildModel } from "../../src/models/registry.ts";
import { prunableLayers } from "../../src/models/spec.ts";
import { bipMaskGradient, bipScoredLayers, bipThetaGradient, masksFromScores, updateScores } from "../../src/prune/bip.ts";
import { sgdUpdate } from "../../src/engine/sgd.ts";
import { trainBatches } from "../../src/data/batches.ts";
import { keepCount, maskDensity } from "../../src/prune/magnitude.ts";
import { bipLoop, bipStepRates, bnReestimationBatches, type BipStepRates } from "../../src/train/bip-loop.ts";
import { evaluate } from "../../src/metrics/evaluate.ts";
import { optim } from "../helpers/tiny-models.ts";

const data = makeSynthetic({ count: 48, testCount: 24, channels: 2, size: 8, numClasses: 3, seed: 2 });
const spec = buildModel("resnet20a", { width: 4, inputShape: [2, 8, 8], numClasses: 3 });
const noAugment = { cropPadding: 0, flip: false };

function bipConfig(over: Partial<BipConfig> = {}): BipConfig {
  return { ...validateConfig<BipBenchConfig>("bip-bench", {}).bip, epochs: 5, batchSize: 8, ...over };
}

async function run(cfg: BipConfig, density: number, watch?: (trainer: OnnxTrainer) => void) {
  const layers = bipScoredLayers(spec, cfg);
  const trainer = await OnnxTrainer.create({ spec, ...optim, threads: 1, maskedParams: layers }, freshState(spec, 3));
  watch?.(trainer);
  const rates: BipStepRates[] = [];
  const out = await bipLoop({ trainer, data, layers, density, cfg, augment: noAugment, seed: 4, onStep: (_d, _n, r) => rates.push(r) });
  return { trainer, out, rates, layers };
}

describe("BiP learning rates follow iterations, not epochs", () => {
  test("every mask phase is reached at its fraction of all iterations, and theta's cosine falls at every iteration", () => {
    const cfg = bipConfig({ thetaLr: 0.01, maskLr: 0.1 });
    const total = 5 * 4; // 5 epochs of 4 iterations: per-epoch phases would never reach x0.01 (epoch 4 < 0.9 * 5)
    const r = Array.from({ length: total }, (_, i) => bipStepRates(cfg, i, total));
    const factors = r.map((x) => Math.round((x.maskLr / cfg.maskLr) * 1000) / 1000);
    expect(factors.indexOf(0.1)).toBe(15); // 15 / 20 = 0.75
    expect(factors.indexOf(0.01)).toBe(18); // 18 / 20 = 0.9
    expect(factors.slice(0, 15).every((f) => f === 1)).toBe(true);
    expect(r[0]!.thetaLr).toBe(cfg.thetaLr);
    for (let i = 1; i < total; i++) expect(r[i]!.thetaLr).toBeLessThan(r[i - 1]!.thetaLr);
    expect(r.at(-1)!.thetaLr).toBeGreaterThan(0);
  });

  test("the loop runs them: a 5-epoch run spends its last iterations at beta x 0.01", async () => {
    const cfg = bipConfig({ epochs: 5 });
    const { rates } = await run(cfg, 0.5);
    const steps = Math.floor(data.train.count / cfg.batchSize);
    expect(rates.length).toBe(5 * steps);
    const last = rates.at(-1)!;
    expect(last.maskLr).toBeCloseTo(cfg.maskLr * 0.01, 12);
    expect(rates.filter((x) => Math.abs(x.maskLr - cfg.maskLr * 0.1) < 1e-12).length).toBeGreaterThan(0);
  }, 60_000);
});

describe("BiP's final subnetwork is evaluated with BN statistics of its own mask", () => {
  test("the kept BN statistics are those re-estimated under the final mask; the running-statistics accuracy is kept too", async () => {
    const cfg = bipConfig({ epochs: 2 });
    // The state the first evaluation sees (the loop evaluates only after its last epoch).
    let firstEval: ReturnType<typeof cloneState> | undefined;
    const { trainer, out } = await run(cfg, 0.4, (t) => {
      const predict = t.predict.bind(t);
      t.predict = (x, size) => {
        firstEval ??= cloneState(t.state);
        return predict(x, size);
      };
    });
    expect(out.status).toBe("done");
    expect(out.bnImages).toBe(data.train.count);
    const final = cloneState(trainer.state);
    // Independently: re-estimate from scratch on the same images, under the same masks.
    trainer.state = { ...cloneState(final), buffers: Object.fromEntries(Object.entries(final.buffers).map(([k, v]) => [k, v.map(() => 7)])) };
    await reestimateBatchNorm(trainer, bnReestimationBatches(data, "all", cfg.batchSize, 4).batches);
    for (const [k, v] of Object.entries(final.buffers))
      for (let i = 0; i < v.length; i++) expect(Math.abs(trainer.state.buffers[k]![i]! - v[i]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(v[i]!)));
    const ev = await evaluate(trainer, data, data.test, 100);
    expect(out.epochs.at(-1)!.testAccuracy).toBe(ev.accuracy);
    // The running-statistics accuracy: the same final weights with the statistics the loop left, which re-estimation then replaced.
    expect(firstEval!.params).toEqual(final.params);
    expect(Object.keys(final.buffers).some((k) => final.buffers[k]!.some((v, i) => Math.abs(v - firstEval!.buffers[k]![i]!) > 1e-4))).toBe(true);
    trainer.state = firstEval!;
    expect(out.runningBn).toEqual(await evaluate(trainer, data, data.test, 100));
  }, 60_000);

  test("filter-wise: a pruned filter's BN channel has mean and variance exactly 0, as in training mode (no stale running statistics)", async () => {
    const cfg = bipConfig({ epochs: 2, structure: "filter" });
    const { trainer, out, layers } = await run(cfg, 0.5);
    expect(layers).toEqual(prunableLayers(spec).map((l) => l.name));
    let prunedChannels = 0;
    for (const op of spec.ops) {
      if (op.kind !== "conv") continue;
      const bn = spec.ops.find((b) => b.kind === "bn" && b.x === op.out);
      if (!bn || bn.kind !== "bn") continue;
      const m = out.masks[op.weight]!,
        per = m.length / op.cout;
      for (let o = 0; o < op.cout; o++) {
        if (m[o * per]) continue;
        prunedChannels++;
        expect(trainer.state.buffers[bn.mean]![o]).toBe(0);
        expect(trainer.state.buffers[bn.var]![o]).toBe(0);
      }
    }
    expect(prunedChannels).toBeGreaterThan(0);
  }, 60_000);

  test("a fixed image count re-estimates on exactly that many images", () => {
    const bn = bnReestimationBatches(data, 13, 8, 1);
    const sizes = [...bn.batches].map((b) => b.size);
    expect(bn.count).toBe(13);
    expect(sizes).toEqual([8, 5]);
    expect(bnReestimationBatches(data, 1000, 8, 1).count).toBe(data.train.count);
  });

  test("re-estimation sees the images as training does: the same images, with the training augmentation", () => {
    const plain = [...bnReestimationBatches(data, "all", 8, 1).batches];
    const augmented = [...bnReestimationBatches(data, "all", 8, 1, { cropPadding: 2, flip: true }).batches];
    expect(augmented.map((b) => Array.from(b.y))).toEqual(plain.map((b) => Array.from(b.y)));
    expect(augmented.some((b, i) => b.x.some((v, j) => v !== plain[i]!.x[j]))).toBe(true);
    const none = [...bnReestimationBatches(data, "all", 8, 1, { cropPadding: 0, flip: false }).batches];
    expect(none.every((b, i) => b.x.every((v, j) => v === plain[i]!.x[j]))).toBe(true);
  });
});

describe("layers BiP scores (public code: conv and fc in one unstructured top-k)", () => {
  test("unstructured BiP scores the fc weight by default; filter-wise BiP and includeFc = false do not", () => {
    const convs = prunableLayers(spec).map((l) => l.name);
    const fc = spec.params.find((p) => p.role === "fc-weight")!.name;
    expect(bipScoredLayers(spec, bipConfig())).toEqual([...convs, fc]);
    expect(bipScoredLayers(spec, bipConfig({ includeFc: false }))).toEqual(convs);
    expect(bipScoredLayers(spec, bipConfig({ structure: "filter" }))).toEqual(convs);
  });

  test("the fc's weights share the global top-k: the masks over conv and fc keep exactly the target's count", async () => {
    const { out, layers } = await run(bipConfig({ epochs: 1 }), 0.3);
    const fc = spec.params.find((p) => p.role === "fc-weight")!.name;
    expect(Object.keys(out.masks)).toContain(fc);
    const total = layers.reduce((n, l) => n + out.masks[l]!.length, 0);
    expect(Math.round(maskDensity(out.masks) * total)).toBe(keepCount(total, 0.3));
  }, 60_000);
});

describe("BiP's alternation (Algorithm A1): a theta-step, then a mask-step at the new theta", () => {
  test.each([
    ["the paper's variant, weight decay on theta", {}],
    ["the code's variant", { variant: "code", codeLr2: 0.3 }],
    ["gamma/2 ||theta||^2 on the pruned layers", { thetaL2: "gamma", gamma: 0.2 }],
  ] as [string, Partial<BipConfig>][])(
    "%s: one full-batch iteration equals the two steps composed by hand from their tested parts; the scores move and the masks follow them",
    async (_what, over) => {
      // One batch of the whole training split: a full-batch gradient is the same whatever the shuffle.
      const cfg = bipConfig({ epochs: 1, batchSize: data.train.count, maskLr: 0.5, ...over });
      const density = 0.5;
      const { out, layers } = await run(cfg, density);
      expect(out.status).toBe("done");

      const ref = await OnnxTrainer.create({ spec, ...optim, threads: 1, maskedParams: layers }, freshState(spec, 3));
      const all = [...trainBatches(data, { batchSize: data.train.count, seed: 0, epoch: 0, augment: noAugment, dropLast: true })][0]!;
      const scores0 = Object.fromEntries(layers.map((l) => [l, ref.state.params[l]!.map(Math.abs)]));
      const masks0 = masksFromScores(scores0, layers, density);
      layers.forEach((l) => (ref.masks[l] = masks0[l]!));
      const variant = cfg.variant === "code" ? { kind: "code" as const, lr2: cfg.codeLr2 } : { kind: "paper" as const, gamma: cfg.gamma };
      const maskStepAt = async (state: typeof ref.state) => {
        ref.state = state;
        const gm = await ref.gradients(all);
        const grads = Object.fromEntries(layers.map((l) => [l, bipMaskGradient(gm.grads[l]!, state.params[l]!, masks0[l]!, variant)]));
        return updateScores(scores0, grads, cfg.maskLr, cfg.maskMomentum, {}, cfg.scoreWeightDecay).scores;
      };
      // Theta-step: masked gradient plus weight decay (or gamma, on the pruned layers where thetaL2 says so), SGD at the first learning rate.
      const theta0 = cloneState(ref.state);
      const g = await ref.gradients(all);
      const l2 = (k: string) => (layers.includes(k) && cfg.thetaL2 === "gamma" ? cfg.gamma : cfg.weightDecay);
      const grads = Object.fromEntries(
        Object.entries(g.grads).map(([k, gz]) => [k, bipThetaGradient(gz, ref.state.params[k]!, layers.includes(k) ? masks0[k] : undefined, l2(k))]),
      );
      const theta1 = { ...sgdUpdate(ref.state, grads, {}, { lr: cfg.thetaLr, momentum: cfg.momentum, weightDecay: 0 }), buffers: g.buffers };
      const expected = await maskStepAt(theta1);
      const atOldTheta = await maskStepAt({ ...theta0, buffers: g.buffers });

      for (const l of layers) {
        const got = out.scores[l]!;
        const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
        expect(maxDiff(got, expected[l]!)).toBeLessThan(1e-6);
        // The test tells the orders apart: the scores moved, and a mask-step at the old theta differs.
        expect(maxDiff(got, scores0[l]!)).toBeGreaterThan(1e-4);
        expect(maxDiff(atOldTheta[l]!, expected[l]!)).toBeGreaterThan(1e-6);
      }
      // The final masks are the top-k of the final scores.
      const top = masksFromScores(out.scores, layers, density);
      for (const l of layers) expect([...out.masks[l]!]).toEqual([...top[l]!]);
    },
    60_000,
  );
});

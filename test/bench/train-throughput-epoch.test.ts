import { expect, test } from "bun:test";
import type { StepsRequest, Trainer } from "../../src/engine/types.ts";
import { benchAugment, benchDataset, EpochBench, stepCosts } from "../../src/experiments/train-throughput.ts";

const SHAPE = [3, 8, 8] as const;
const AUGMENT = { cropPadding: 2, flip: true };

test("a timed epoch's host time is the wall time outside the engine's requests plus building batches on its device", () => {
  // 10 steps in 1.0 s; the engine says 0.9 s of it was its own, 0.02 s of that building batches.
  const t = { steps: 10, images: 80, seconds: 1.0, engineSeconds: 0.9, deviceBuildSeconds: 0.02, jsBuildSeconds: 0 };
  const c = stepCosts(t);
  expect(c.msPerStep).toBeCloseTo(100, 9);
  expect(c.hostMsPerStep).toBeCloseTo(12, 9);
  expect(c.batchMsPerStep).toBeCloseTo(2, 9);
  expect(c.hostShare).toBeCloseTo(0.12, 9);
  // CUDA: building batches is not separable, so only the time outside the requests counts.
  const cuda = stepCosts({ ...t, deviceBuildSeconds: null });
  expect(cuda.hostMsPerStep).toBeCloseTo(10, 9);
  expect(cuda.batchMsPerStep).toBeNull();
  // An engine without a resident path: its batches are built in JS, and there is no host split.
  const js = stepCosts({ ...t, engineSeconds: null, deviceBuildSeconds: null, jsBuildSeconds: 0.05 });
  expect(js).toEqual({ msPerStep: 100, batchMsPerStep: 5, hostMsPerStep: null, hostShare: null });
});

test("the crop padding scales down with the image, never up", () => {
  const a = { cropPadding: 4, cropPaddingImageSize: 32, flip: true };
  expect(benchAugment(a, [3, 32, 32])).toEqual({ cropPadding: 4, flip: true });
  expect(benchAugment(a, [3, 16, 16])).toEqual({ cropPadding: 2, flip: true });
  expect(benchAugment(a, [1, 64, 64]).cropPadding).toBe(4);
});

/** A trainer that holds the data: records each request's plans and reports a fixed timing. */
function residentFake(stepsPerRequest: number) {
  const requests: StepsRequest[] = [];
  const trainer = {
    engine: "torch",
    provider: "cpu",
    trainStep: () => Promise.reject(new Error("a resident engine's epoch must not take single steps")),
    resident: {
      stepsPerRequest,
      loadSplit: () => undefined,
      predictSplit: () => Promise.resolve(new Float32Array(0)),
      trainSteps: (r: StepsRequest) => {
        requests.push(r);
        const n = r.plans.length;
        return Promise.resolve({ losses: new Float32Array(n).fill(1), correct: new Float32Array(n), timing: { seconds: 0.25, buildSeconds: 0.01 } });
      },
    },
  } as unknown as Trainer;
  return { trainer, requests };
}

test("a resident engine's warm-up sends only its steps; the timed epoch adds up the engine's own timing of every request", async () => {
  const data = benchDataset(SHAPE, 7 * 4, 10);
  const f = residentFake(3);
  const bench = new EpochBench(f.trainer, data, 4, AUGMENT);
  const warm = await bench.run(2);
  expect(warm.steps).toBe(2);
  expect(f.requests.map((r) => r.plans.length)).toEqual([2]);
  f.requests.length = 0;
  const t = await bench.run();
  expect([t.steps, t.images]).toEqual([7, 28]);
  expect(f.requests.map((r) => r.plans.length)).toEqual([3, 3, 1]);
  expect(t.engineSeconds).toBeCloseTo(0.75, 9);
  expect(t.deviceBuildSeconds).toBeCloseTo(0.03, 9);
  expect(t.seconds).toBeGreaterThan(0);
  // Augmented as asked: some crop shift or flip in the epoch's plans.
  expect(f.requests.some((r) => r.plans.some((p) => p.mirror.some((m) => m === 1) || p.shiftX.some((s) => s !== 0)))).toBe(true);
});

test("an engine without a resident path trains on batches built in JS, whose cost is recorded", async () => {
  const data = benchDataset(SHAPE, 5 * 4, 10);
  const sizes: number[] = [];
  const trainer = {
    engine: "onnx",
    provider: "cpu",
    trainStep: (b: { size: number; x: Float32Array }) => {
      sizes.push(b.size);
      expect(b.x.length).toBe(b.size * 3 * 8 * 8);
      return Promise.resolve({ loss: 1, correct: 0 });
    },
  } as unknown as Trainer;
  const t = await new EpochBench(trainer, data, 4, AUGMENT).run();
  expect(sizes).toEqual([4, 4, 4, 4, 4]);
  expect(t.engineSeconds).toBeNull();
  expect(t.jsBuildSeconds).toBeGreaterThan(0);
  expect(t.jsBuildSeconds).toBeLessThanOrEqual(t.seconds);
});

test("torch variants: every one on CUDA; on the CPU, those differing only in CUDA settings measured once", async () => {
  const { variantsFor } = await import("../../src/experiments/train-throughput.ts");
  const v = [
    { precision: "fp32", cudaGraphs: false, channelsLast: false },
    { precision: "fp32", cudaGraphs: true, channelsLast: true },
    { precision: "tf32", cudaGraphs: true, channelsLast: false },
    { precision: "bf16", cudaGraphs: true, channelsLast: false },
  ] as const;
  expect(variantsFor("torch-cuda", [...v])).toEqual([...v]);
  expect(variantsFor("torch-cpu", [...v])).toEqual([
    { precision: "fp32", cudaGraphs: false, channelsLast: false },
    { precision: "bf16", cudaGraphs: false, channelsLast: false },
  ]);
  expect(variantsFor("onnx-cpu", [...v])).toEqual([undefined]);
});

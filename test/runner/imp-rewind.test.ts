/**
 * IMP at the unit level: a round prunes the smallest weights of the model it follows (the
 * dense model's final weights, then the previous round's trained ones) and restarts the
 * survivors from the dense run's early snapshot (weight rewinding), not from the weights
 * it pruned. A learning rate of 1e-30 leaves every weight as it started to float32
 * precision, so the trained round is exactly its starting point.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { validateConfig } from "../../src/config/load.ts";
import { loadSnapshot } from "../../src/runner/kinds/dense.ts";
import { TRAINED_WEIGHTS } from "../../src/runner/kinds/shared/training-run.ts";
import { loadDepCheckpoint } from "../../src/runner/dependency-error.ts";
import { runUnits } from "../../src/runner/run-units.ts";
import { RunStore } from "../../src/runner/store.ts";
import { runner, tempRuns, unit } from "./helpers.ts";

setDefaultTimeout(60_000);

const quiet = { reportDir: "/nonexistent", log: () => {}, progress: false };
const training = (lr: number, epochs: number) =>
  validateConfig<Record<string, unknown>>("training", {
    seed: 3,
    model: { arch: "preresnet20", width: 4 },
    data: { dataset: "synthetic", trainLimit: 64, testLimit: 32 },
    optim: { epochs, batchSize: 32, lr },
    engine: { name: "onnx", provider: "cpu", threads: 1 },
  });

/** The keep-mask of the largest |w| over all listed tensors among the `current` survivors, by sorting: keep round(density * n). */
function topMagnitude(params: Record<string, Float32Array>, layers: string[], keep: number, current?: Record<string, Float32Array>) {
  const all = layers.flatMap((l) => [...params[l]!].map((v, i) => ({ l, i, a: current && current[l]![i] === 0 ? -1 : Math.abs(v) })));
  all.sort((x, y) => y.a - x.a);
  const masks = Object.fromEntries(layers.map((l) => [l, new Float32Array(params[l]!.length)]));
  for (const e of all.slice(0, keep)) masks[e.l]![e.i] = 1;
  return masks;
}

test("IMP rounds prune the model they follow and rewind the survivors to the early snapshot", async () => {
  const runs = tempRuns();
  const dense = unit("dense", { training: training(0.05, 2), snapshots: [1, 2] });
  const round = (n: number, previous?: string) =>
    unit(
      "imp-round",
      { training: training(1e-30, 1), dense: dense.id, ...(previous ? { previous } : {}), round: n, rate: 0.2, rewindEpoch: 1, finalEpoch: 2 },
      previous ? [dense.id, previous] : [dense.id],
    );
  const r1 = round(1),
    r2 = round(2, r1.id);
  const out = await runUnits([dense, r1, r2], runner(runs, { jobs: 1 }), quiet);
  expect(out!.failed).toEqual([]);
  const store = new RunStore(runs);
  const ctx = { dep: (id: string) => ({ record: store.result(id)!, dir: store.dir(id) }) } as Parameters<typeof loadSnapshot>[0];
  const early = loadSnapshot(ctx, dense.id, 1).state.params,
    final = loadSnapshot(ctx, dense.id, 2).state.params;
  const first = loadDepCheckpoint(ctx, r1.id, TRAINED_WEIGHTS),
    second = loadDepCheckpoint(ctx, r2.id, TRAINED_WEIGHTS);
  const layers = Object.keys(first.masks).sort();
  const n = layers.reduce((a, l) => a + final[l]!.length, 0);

  // Round 1: the largest 80% of the dense model's final weights survive, starting from their epoch-1 values.
  const m1 = topMagnitude(final, layers, Math.round(0.8 * n));
  // Round 2: 80% of round 1's survivors, by round 1's trained weights (the rewound ones).
  const m2 = topMagnitude(first.state.params, layers, Math.round(0.8 * Math.round(0.8 * n)), m1);
  for (const [got, masks] of [
    [first, m1],
    [second, m2],
  ] as const) {
    for (const l of layers) {
      expect([...got.masks[l]!]).toEqual([...masks[l]!]);
      const expected = early[l]!.map((v, i) => v * masks[l]![i]!);
      const maxDiff = got.state.params[l]!.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i]!)), 0);
      expect(maxDiff).toBeLessThan(1e-9);
    }
  }
  // The test can tell rewinding from fine-tuning and a mask from the early weights: they differ here.
  const differ = (a: Float32Array, b: Float32Array) => a.some((v, i) => v !== b[i]);
  expect(layers.some((l) => differ(early[l]!, final[l]!))).toBe(true);
  expect(layers.some((l) => differ(topMagnitude(early, layers, Math.round(0.8 * n))[l]!, m1[l]!))).toBe(true);
});

import { expect, setDefaultTimeout, test } from "bun:test";
import { makeSynthetic } from "../../src/data/synthetic.ts";
import { createTrainer } from "../../src/engine/registry.ts";
import { freshState } from "../../src/engine/state.ts";
import { lmcBetween } from "../../src/metrics/pair-metrics.ts";
import { buildModel } from "../../src/models/registry.ts";
import { optim } from "../helpers/tiny-models.ts";

setDefaultTimeout(60_000);

/**
 * A cell measures each model's error at a path's end once and passes it to the other
 * pairs with that model (endErrors). That is only sound because an end point is the
 * model itself with BN re-estimated from scratch: measured again, after other paths
 * changed the trainer's state, it gives the same error. This checks exactly that.
 */
test("an end point's error does not depend on what the trainer measured before: shared ends give each pair's own path", async () => {
  const data = makeSynthetic({ count: 64, testCount: 8, channels: 3, size: 8, numClasses: 4, seed: 2 });
  const spec = buildModel("preresnet20", { width: 4, inputShape: [3, 8, 8], numClasses: 4 });
  const models = [11, 12, 13].map((s) => freshState(spec, s));
  const trainer = await createTrainer({ engine: "onnx", provider: "cpu" }, { spec, ...optim, threads: 1 }, models[0]!);
  const o = { points: 5, bnSplit: data.train, evalSplit: data.train, batchSize: 32 };
  const fresh = async (i: number, j: number) => {
    trainer.state = models[i]!;
    return lmcBetween(trainer, models[i]!.params, models[j]!.params, data, o);
  };
  const p01 = await fresh(0, 1);
  const p12 = await fresh(1, 2);
  // (0, 2) with both ends known from the other pairs, after the trainer held other states.
  trainer.state = models[2]!;
  const shared = await lmcBetween(trainer, models[0]!.params, models[2]!.params, data, {
    ...o,
    endErrors: { a: p01.path[0]!.error, b: p12.path.at(-1)!.error },
  });
  const own = await fresh(0, 2);
  expect(shared.path).toEqual(own.path);
  expect(shared.barrier).toBe(own.barrier);
  // The passed values are used, not re-measured: a different one shows up at the end.
  const marked = await lmcBetween(trainer, models[0]!.params, models[2]!.params, data, { ...o, endErrors: { a: 0.123 } });
  expect(marked.path[0]!.error).toBe(0.123);
  expect(marked.path.at(-1)!.error).toBe(own.path.at(-1)!.error);
  await trainer.dispose();
});

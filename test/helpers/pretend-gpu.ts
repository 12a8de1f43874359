import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Trainer } from "../../src/engine/types.ts";

/**
 * A CPU trainer presented as a GPU one ("fake-gpu"), for the device check: it may say it
 * computes in `precision`, and its gradients may be off by `gradientScale(param)`.
 */
export function pretendGpu(inner: Trainer, o: { precision?: string; gradientScale?: (param: string) => number } = {}): Trainer {
  const scale = o.gradientScale;
  return new Proxy(inner, {
    get(t, k) {
      if (k === "provider") return "fake-gpu";
      if (k === "precision" && o.precision !== undefined) return o.precision;
      if (k === "gradients" && scale)
        return async (b: Parameters<Trainer["gradients"]>[0]) => {
          const g = await t.gradients(b);
          return { ...g, grads: Object.fromEntries(Object.entries(g.grads).map(([p, v]) => [p, scale(p) === 1 ? v : v.map((x) => x * scale(p))])) };
        };
      const v = Reflect.get(t, k);
      return typeof v === "function" ? v.bind(t) : v;
    },
    set: (t, k, v) => Reflect.set(t, k, v),
  });
}

/** Runs `fn` with the device-check cache in a fresh folder of its own (PRUNING_HARNESS_CHECK_CACHE), then puts the setting back. */
export async function withFreshCheckCache(fn: () => Promise<void>): Promise<void> {
  const saved = process.env.PRUNING_HARNESS_CHECK_CACHE;
  process.env.PRUNING_HARNESS_CHECK_CACHE = mkdtempSync(join(tmpdir(), "check-cache-"));
  try {
    await fn();
  } finally {
    if (saved === undefined) delete process.env.PRUNING_HARNESS_CHECK_CACHE;
    else process.env.PRUNING_HARNESS_CHECK_CACHE = saved;
  }
}

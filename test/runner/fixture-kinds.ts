/**
 * Unit kinds for the runner's tests, loaded by workers through
 * PRUNING_HARNESS_EXTRA_KINDS: they record their inputs, fail, or wait on purpose.
 */
import type { UnitKind } from "../../src/runner/kinds/kind.ts";

type EchoConfig = { value: number; sleepMs?: number };
type TicksConfig = { steps: number; stepMs: number };

export const kinds: UnitKind<never>[] = [
  {
    name: "echo",
    async run(cfg: EchoConfig, ctx) {
      if (cfg.sleepMs) await Bun.sleep(cfg.sleepMs);
      const deps = ctx.unit.deps.map((d) => ctx.dep(d).record.metrics.value as number);
      return {
        status: "done",
        engine: "none",
        provider: "none",
        metrics: { value: cfg.value, depValues: deps, finishedAtMs: Date.now(), cudaVisibleDevices: process.env.CUDA_VISIBLE_DEVICES ?? null },
      };
    },
    estimateImages: () => 0,
  } as UnitKind<EchoConfig> as UnitKind<never>,
  {
    // Sleeps step by step, reporting progress after each, like a training unit (no checkpoint: a resumed attempt starts over).
    name: "ticks",
    async run(cfg: TicksConfig, ctx) {
      for (let i = 1; i <= cfg.steps; i++) {
        await Bun.sleep(cfg.stepMs);
        ctx.progress(i, cfg.steps);
      }
      return { status: "done", engine: "none", provider: "none", metrics: { steps: cfg.steps } };
    },
    estimateImages: () => 0,
  } as UnitKind<TicksConfig> as UnitKind<never>,
  {
    name: "always-fails",
    async run() {
      throw new Error("this unit fails on purpose");
    },
    estimateImages: () => 0,
  } as UnitKind<never>,
];

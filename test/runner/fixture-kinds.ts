/**
 * Unit kinds for the runner's tests, loaded by workers through
 * PRUNING_HARNESS_EXTRA_KINDS: they record their inputs, fail, or wait on purpose.
 */
import type { UnitKind } from "../../src/runner/kinds/kind.ts";

type EchoConfig = { value: number; sleepMs?: number };

export const kinds: UnitKind<never>[] = [
  {
    name: "echo",
    async run(cfg: EchoConfig, ctx) {
      if (cfg.sleepMs) await Bun.sleep(cfg.sleepMs);
      const deps = ctx.unit.deps.map((d) => ctx.dep(d).record.metrics.value as number);
      return { status: "done", engine: "none", provider: "none", metrics: { value: cfg.value, depValues: deps, finishedAtMs: Date.now() } };
    },
    estimateImages: () => 0,
  } as UnitKind<EchoConfig> as UnitKind<never>,
  {
    name: "always-fails",
    async run() {
      throw new Error("this unit fails on purpose");
    },
    estimateImages: () => 0,
  } as UnitKind<never>,
];

import { readFileSync } from "node:fs";
import { join } from "node:path";
/**
 * Unit kinds for the runner's tests, loaded by workers through
 * PRUNING_HARNESS_EXTRA_KINDS: they record their inputs, fail, or wait on purpose.
 */
import type { UnitKind } from "../../src/runner/kinds/kind.ts";
import { artifactKinds } from "./fixture-artifact-kinds.ts";

type EchoConfig = { value: number; sleepMs?: number };
type TicksConfig = { steps: number; stepMs: number };
type BlocksConfig = { steps: number; stepMs: number };
type CudaOomConfig = { value: number; sleepMs: number; oomAttempts: number };

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
        metrics: {
          value: cfg.value,
          depValues: deps,
          finishedAtMs: Date.now(),
          cudaVisibleDevices: process.env.CUDA_VISIBLE_DEVICES ?? null,
          cudaDeviceOrder: process.env.CUDA_DEVICE_ORDER ?? null,
        },
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
    // Steps that block the event loop, as the torch engine's synchronous FIFO reads do: no timer of the main thread fires meanwhile.
    name: "blocks",
    async run(cfg: BlocksConfig, ctx) {
      const cell = new Int32Array(new SharedArrayBuffer(4));
      for (let i = 1; i <= cfg.steps; i++) Atomics.wait(cell, 0, 0, cfg.stepMs);
      ctx.progress(cfg.steps, cfg.steps);
      return { status: "done", engine: "none", provider: "none", metrics: { steps: cfg.steps, pid: process.pid } };
    },
    estimateImages: () => 0,
  } as UnitKind<BlocksConfig> as UnitKind<never>,
  {
    // Runs out of GPU memory (the message PyTorch gives) on its first oomAttempts attempts.
    name: "cuda-oom",
    async run(cfg: CudaOomConfig, ctx) {
      await Bun.sleep(cfg.sleepMs);
      const attempt = Number(readFileSync(join(ctx.outDir, "attempts"), "utf8"));
      if (attempt <= cfg.oomAttempts)
        throw new Error("torch engine (train-step): CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.10 GiB total capacity)");
      return { status: "done", engine: "none", provider: "none", metrics: { value: cfg.value, attempt } };
    },
    estimateImages: () => 0,
  } as UnitKind<CudaOomConfig> as UnitKind<never>,
  {
    // Allocates more than the JS heap can hold: fails the same way every time.
    name: "host-oom",
    async run() {
      new Float32Array(2 ** 40);
      return { status: "done", engine: "none", provider: "none", metrics: {} };
    },
    estimateImages: () => 0,
  } as UnitKind<never>,
  {
    name: "always-fails",
    async run() {
      throw new Error("this unit fails on purpose");
    },
    estimateImages: () => 0,
  } as UnitKind<never>,
  // A producer of a checkpoint and its reader (damaged dependency outputs).
  ...artifactKinds,
];

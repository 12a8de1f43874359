import { expect, test } from "bun:test";
import { join } from "node:path";
import { probeTorch } from "../../src/engine/torch/detect.ts";
import { RAW_TORCH_ARCHS } from "../../src/experiments/train-throughput.ts";
import { buildModel } from "../../src/models/registry.ts";
import { countParams } from "../../src/models/spec.ts";

const probe = await probeTorch();

// bench:train compares the engines with raw PyTorch on the same network: the reference
// script's nn.Modules, written independently, must have the harness models' parameters.
test.skipIf(!("found" in probe))(
  "the raw PyTorch reference models have the harness models' parameter counts, at two widths and one and three channels",
  () => {
    const python = "found" in probe ? probe.found.python : "";
    for (const arch of RAW_TORCH_ARCHS)
      for (const [width, channels] of [
        [8, 3],
        [16, 1],
      ] as const) {
        const r = Bun.spawnSync(
          [
            python,
            join(import.meta.dir, "../../bench/torch_train_step.py"),
            "--arch",
            arch,
            "--width",
            String(width),
            "--channels",
            String(channels),
            "--batch",
            "2",
            "--steps",
            "1",
            "--warmup",
            "0",
            "--threads",
            "1",
          ],
          { stdout: "pipe", stderr: "pipe" },
        );
        expect(r.exitCode, r.stderr.toString()).toBe(0);
        const out = JSON.parse(r.stdout.toString()) as { arch: string; params: number };
        expect(out.arch).toBe(arch);
        expect(out.params).toBe(countParams(buildModel(arch as never, { width, inputShape: [channels, 32, 32], numClasses: 10 })));
      }
  },
  60_000,
);

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunnerConfig } from "../../src/config/generated/runner.ts";
import type { UnitRecord } from "../../src/config/generated/record.ts";
import { validateConfig } from "../../src/config/load.ts";
import { unitId, type Unit } from "../../src/runner/unit.ts";

export const FIXTURE_KINDS = join(import.meta.dir, "fixture-kinds.ts");
process.env.PRUNING_HARNESS_EXTRA_KINDS = FIXTURE_KINDS;

export const REPO = join(import.meta.dir, "../..");

export function tempRuns(): string {
  return join(mkdtempSync(join(tmpdir(), "runs-")), "runs");
}

export function runner(runsDir: string, over: Partial<RunnerConfig> = {}): RunnerConfig {
  return validateConfig<RunnerConfig>("runner", { runsDir, jobs: 2, threadsPerJob: 1, ...over });
}

export function unit(kind: string, config: Record<string, unknown>, deps: string[] = [], label?: string): Unit<unknown> {
  const spec = { kind, config, deps, label };
  return { ...spec, id: unitId(spec) };
}

/** A tiny real training unit: PreResNet-20 w4 on 128 synthetic images. */
export function tinyTrain(seed: number, over: Record<string, unknown> = {}): Unit<unknown> {
  const config = validateConfig<Record<string, unknown>>("training", {
    seed,
    model: { arch: "preresnet20", width: 4 },
    data: { dataset: "synthetic", trainLimit: 128, testLimit: 64 },
    optim: { epochs: 6, batchSize: 32, lr: 0.05 },
    engine: { name: "onnx", provider: "cpu", threads: 1 },
    ...over,
  });
  return unit("train", config, [], `seed ${seed}`);
}

/** What must match between an interrupted-then-resumed run and an uninterrupted one. */
export function outcomeOf(r: UnitRecord | undefined | null) {
  if (!r) return null;
  const m = r.metrics as { weightsSha256: string; epochs: { trainLoss: number; testAccuracy?: number }[] };
  return { status: r.status, weights: m.weightsSha256, losses: m.epochs.map((e) => e.trainLoss), acc: m.epochs.map((e) => e.testAccuracy) };
}

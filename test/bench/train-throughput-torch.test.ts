import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { probeTorch } from "../../src/engine/torch/detect.ts";

const REPO = join(import.meta.dir, "../..");
const probe = await probeTorch();

// The grid mechanism (workers warm up, start together, their windows overlap) on the CPU, where CI can run it; on a GPU the same code shares cuda:0.
test.skipIf(!("found" in probe))(
  "bench:train: torch-engine epochs beside raw PyTorch epochs, a grid row of runs started together, and goals computed from them",
  () => {
    const dir = mkdtempSync(join(tmpdir(), "bench-train-"));
    const r = Bun.spawnSync(
      [
        process.execPath,
        join(REPO, "bench/train-throughput.ts"),
        "--preset",
        "smoke",
        "--no-accuracy",
        "--report-dir",
        dir,
        "--runs-dir",
        join(dir, "runs"),
        "--set",
        'throughput.engines=["torch-cpu","torch-cuda"]',
        "--set",
        "throughput.grid.device=cpu",
        "--set",
        "throughput.grid.workers=[1,2]",
        "--set",
        "throughput.grid.steps=3",
        "--set",
        'throughput.cases=[{"name":"w4 32x32","arch":"preresnet20","width":4,"inputShape":[3,32,32],"batchSize":8}]',
        "--set",
        "throughput.profileSteps=0",
        "--set",
        'throughput.packs.cases=[{"arch":"preresnet20","width":4,"batchSize":8}]',
        "--set",
        'throughput.packs.engines=["torch-cpu"]',
        "--set",
        "torch.enabled=true",
      ],
      { stdout: "pipe", stderr: "pipe" },
    );
    if (r.exitCode !== 0) throw new Error(`bench:train failed (${r.exitCode}): ${r.stderr.toString().slice(-2000)}`);
    const rec = JSON.parse(readFileSync(join(dir, "train-throughput.json"), "utf8"));
    const engine = rec.throughput.find((m: { engine: string }) => m.engine === "torch-cpu");
    expect(engine.status).toBe("measured");
    expect(engine.imagesPerSecond).toBeGreaterThan(0);
    // One timed epoch of the smoke preset's steps, augmented (4 px at 32 px), its host time split off.
    expect([engine.steps, engine.cropPadding, engine.flip]).toEqual([2, 4, true]);
    expect(engine.imagesPerSecond).toBeCloseTo((engine.steps * engine.batchSize) / engine.epochSeconds, 6);
    expect(engine.msPerStep).toBeCloseTo((engine.epochSeconds / engine.steps) * 1000, 6);
    expect(engine.batchMsPerStep).toBeGreaterThan(0);
    expect(engine.hostMsPerStep).toBeGreaterThan(engine.batchMsPerStep);
    expect(engine.hostShare).toBeCloseTo(engine.hostMsPerStep / engine.msPerStep, 9);
    expect(engine.hostShare).toBeLessThan(1);
    const raw = rec.torch.find((t: { device: string }) => t.device === "cpu");
    expect(raw.status).toBe("measured");
    expect(raw.steps).toBe(2);
    expect(raw.msPerStep).toBeGreaterThan(0);
    expect(rec.grid.map((g: { workers: number; status: string }) => [g.workers, g.status])).toEqual([
      [1, "measured"],
      [2, "measured"],
    ]);
    const two = rec.grid[1];
    expect(two.perRun.length).toBe(2);
    const md = readFileSync(join(dir, "train-throughput.md"), "utf8");
    const ratio = engine.imagesPerSecond / raw.imagesPerSecond;
    expect(md).toContain(
      `| torch engine epoch (augmented, batches built on the device) >= 0.95x raw PyTorch epoch (data in memory), cpu, w4 32x32 | ${ratio >= 0.95 ? "met" : "NOT met"} | ${ratio.toFixed(2)}x`,
    );
    expect(md).toContain(
      `| torch engine host time <= 5.0% of the step, cpu, w4 32x32 | ${engine.hostShare <= 0.05 ? "met" : "NOT met"} | ${(100 * engine.hostShare).toFixed(1)}%`,
    );
    expect(md).toMatch(/a grid of small runs on one GPU >= 3x one at a time \| (met|NOT met) \|/);
    expect(md).toContain("| w4 32x32 | torch-cuda | - |");
  },
  120_000,
);

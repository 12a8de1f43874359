import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TrainingConfig } from "../../src/config/generated/training.ts";
import { dataFingerprints } from "../../src/data/fingerprint.ts";
import { FIG2_CLAIMS } from "../../src/report/fig2-claims.ts";
import { loadData } from "../../src/train/setup.ts";

const REPO = join(import.meta.dir, "../..");

/** Every finished unit's record in a run store. */
function records(runs: string): { unitId: string; kind: string; config: { training: TrainingConfig }; metrics: Record<string, unknown> }[] {
  return readdirSync(runs)
    .filter((d) => existsSync(join(runs, d, "result.json")))
    .map((d) => JSON.parse(readFileSync(join(runs, d, "result.json"), "utf8")));
}

test("repro:fig2 --preset smoke writes a report, JSON and figures that agree with each other, from one training set", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fig2-"));
  const r = Bun.spawnSync(
    [process.execPath, join(REPO, "repro/fig2.ts"), "--preset", "smoke", "--runs-dir", join(dir, "runs"), "--report-dir", join(dir, "reports")],
    { stdout: "pipe", stderr: "pipe" },
  );
  if (r.exitCode !== 0) throw new Error(`repro:fig2 failed (${r.exitCode}): ${r.stderr.toString().slice(-2000)}`);
  const reports = join(dir, "reports");
  for (const f of ["fig2.md", "fig2.json", "fig2-test-error.svg", "fig2-lmc.svg", "fig2-cka.svg", "fig2-regimes.svg"])
    expect(existsSync(join(reports, f))).toBe(true);
  const json = JSON.parse(readFileSync(join(reports, "fig2.json"), "utf8"));
  const md = readFileSync(join(reports, "fig2.md"), "utf8");
  // 2 temperatures x 2 densities, every cell measured.
  expect(json.cells.length).toBe(4);
  for (const c of json.cells) {
    // The synthetic set is learnable: every retrained model is well clear of chance (90% error on 10 classes), and no NaN gets through.
    for (const e of c.seedErrors) expect(e).toBeLessThan(0.7);
    expect(Number.isFinite(c.testError)).toBe(true);
    expect(Number.isFinite(c.lmcBarrier)).toBe(true);
    expect(["I", "II-A", "II-B"]).toContain(c.regime);
  }
  expect(json.claims.length).toBe(6);
  expect(json.claims.map((c: { id: string }) => c.id)).toEqual(FIG2_CLAIMS.map((d) => d.id));
  for (const c of json.claims) {
    expect(md).toContain(`| ${c.claim} |`);
    expect(md).toContain(`**${c.verdict}**`);
  }
  for (const c of json.cells) expect(md).toContain(`| ${c.temperature} | ${+(100 * c.density).toFixed(1)}% | ${c.testError.toFixed(4)} ± `);
  expect(md).toContain("dataset | synthetic");
  expect(md).toContain("Scaled down from the paper's protocol");
  expect(readFileSync(join(reports, "fig2-regimes.svg"), "utf8")).toStartWith("<svg");
  // The dense model, every retrain seed and the cells' metric images share one training set.
  const recs = records(join(dir, "runs"));
  expect(
    recs
      .filter((r) => r.kind === "retrain")
      .map((r) => r.config.training.seed)
      .sort(),
  ).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
  // Each role draws its own stream, named in its record: no retrain seed replays the dense run's.
  const streams = (kind: string) => new Set(recs.filter((r) => r.kind === kind).map((r) => JSON.stringify(r.metrics.dataStream)));
  expect([...streams("dense")]).toEqual([JSON.stringify({ seed: 1, stream: "dense" })]);
  expect([...streams("retrain")].sort()).toEqual([1, 2, 3].map((seed) => JSON.stringify({ seed, stream: "retrain-of-dense-seed-1" })));
  // Every cell compares all 3 pairs of its 3 retrained models; the report's values are their means.
  for (const c of json.cells) {
    const cell = recs.find((r) => r.unitId === json.units[`${c.temperature}@${c.density}`][0].cell)!;
    const pairs = cell.metrics.pairs as { models: string[]; lmcBarrier: number; cka: number; lmcPath: { t: number; error: number }[] }[];
    for (const p of pairs) {
      // The paper's barrier from the recorded path, by hand: mean of the ends minus the error at t*, the point furthest from it.
      const e = p.lmcPath.map((q) => q.error);
      const mid = (e[0]! + e.at(-1)!) / 2;
      const far = e.reduce((best, x) => (Math.abs(mid - x) > Math.abs(mid - best) ? x : best), mid);
      expect(p.lmcPath.map((q) => q.t)).toEqual(Array.from({ length: e.length }, (_, i) => i / (e.length - 1)));
      expect(p.lmcBarrier).toBeCloseTo(mid - far, 12);
      expect(p.cka).toBeLessThanOrEqual(1 + 1e-9);
    }
    expect(pairs.map((p) => p.models.length)).toEqual([2, 2, 2]);
    expect(new Set(pairs.map((p) => [...p.models].sort().join())).size).toBe(3);
    expect(c.lmcBarrier).toBeCloseTo(pairs.reduce((s, p) => s + p.lmcBarrier, 0) / 3, 12);
    expect(c.cka).toBeCloseTo(pairs.reduce((s, p) => s + p.cka, 0) / 3, 12);
    expect(c.pairs.map((p: { lmcBarrier: number }) => p.lmcBarrier)).toEqual(pairs.map((p) => p.lmcBarrier));
  }
  const prints = new Set(recs.map((r) => r.metrics.trainFingerprint));
  expect(recs.length).toBe(17);
  expect([...prints]).toHaveLength(1);
  expect(new Set(recs.map((r) => r.metrics.testFingerprint)).size).toBe(1);
  expect(md).toContain("recorded one training-set fingerprint");
  // ...which is what the data seed draws; another data seed draws other images.
  const dense = recs.find((r) => r.kind === "dense")!.config.training;
  expect(dataFingerprints(await loadData(dense)).trainFingerprint).toBe([...prints][0] as string);
  const other = dataFingerprints(await loadData({ ...dense, data: { ...dense.data, subsetSeed: dense.data.subsetSeed + 1 } }));
  expect(other.trainFingerprint).not.toBe([...prints][0] as string);
  expect(other.testFingerprint).not.toBe(recs[0]!.metrics.testFingerprint as string);
  // A second run reuses every unit.
  const again = Bun.spawnSync(
    [process.execPath, join(REPO, "repro/fig2.ts"), "--preset", "smoke", "--runs-dir", join(dir, "runs"), "--report-dir", join(dir, "reports2")],
    { stdout: "pipe", stderr: "pipe" },
  );
  expect(again.exitCode).toBe(0);
  expect(readFileSync(join(dir, "reports2", "fig2.md"), "utf8")).toContain("0 units run, 17 reused from the run store");
}, 180_000);

test("each temperature axis plans its dense runs: one for epochs, one per batch size, one per SAM rho", () => {
  const plan = (axis: string) => {
    const r = Bun.spawnSync(
      [
        process.execPath,
        join(REPO, "repro/fig2.ts"),
        "--preset",
        "smoke",
        "--temperature",
        axis,
        "--dry-run",
        "--runs-dir",
        join(mkdtempSync(join(tmpdir(), "fig2-")), "runs"),
      ],
      { stdout: "pipe", stderr: "pipe" },
    );
    expect(r.exitCode).toBe(0);
    return r.stdout.toString();
  };
  // smoke: 2 temperatures x 2 densities x 3 seeds = 12 retrains, 4 cells.
  expect(plan("epochs")).toContain("plan: 17 units (dense: 1 (0 complete), retrain: 12 (0 complete), cell: 4 (0 complete))");
  expect(plan("batch-size")).toContain("plan: 18 units (dense: 2 (0 complete), retrain: 12 (0 complete), cell: 4 (0 complete))");
  expect(plan("sam")).toContain("plan: 18 units (dense: 2 (0 complete), retrain: 12 (0 complete), cell: 4 (0 complete))");
}, 60_000);

test("repro:fig2 --temperature sam trains with SAM and completes", () => {
  const dir = mkdtempSync(join(tmpdir(), "fig2-sam-"));
  const r = Bun.spawnSync(
    [
      process.execPath,
      join(REPO, "repro/fig2.ts"),
      "--preset",
      "smoke",
      "--temperature",
      "sam",
      // The dense runs are what SAM changes: one density and two retrain seeds are enough after them.
      "--set",
      "densities=0.5",
      "--set",
      "seeds.retrain=1,2",
      "--runs-dir",
      join(dir, "runs"),
      "--report-dir",
      join(dir, "reports"),
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  if (r.exitCode !== 0) throw new Error(r.stderr.toString().slice(-2000));
  const json = JSON.parse(readFileSync(join(dir, "reports", "fig2.json"), "utf8"));
  expect(json.cells.map((c: { temperature: number }) => c.temperature)).toEqual([0.4, 0.1]);
  expect(readFileSync(join(dir, "reports", "fig2.md"), "utf8")).toContain("SAM rho (larger = hotter)");
}, 180_000);

import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const REPO = join(import.meta.dir, "../..");

test("repro:fig2 --preset smoke writes a report, JSON and figures that agree with each other", () => {
  const dir = mkdtempSync(join(tmpdir(), "fig2-"));
  const r = Bun.spawnSync([process.execPath, join(REPO, "repro/fig2.ts"), "--preset", "smoke", "--runs-dir", join(dir, "runs"), "--report-dir", join(dir, "reports")], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`repro:fig2 failed (${r.exitCode}): ${r.stderr.toString().slice(-2000)}`);
  const reports = join(dir, "reports");
  for (const f of ["fig2.md", "fig2.json", "fig2-test-error.svg", "fig2-lmc.svg", "fig2-cka.svg", "fig2-regimes.svg"]) expect(existsSync(join(reports, f))).toBe(true);
  const json = JSON.parse(readFileSync(join(reports, "fig2.json"), "utf8"));
  const md = readFileSync(join(reports, "fig2.md"), "utf8");
  // 2 temperatures x 2 densities, every cell measured.
  expect(json.cells.length).toBe(4);
  for (const c of json.cells) {
    expect(typeof c.testError).toBe("number");
    expect(typeof c.lmcBarrier).toBe("number");
    expect(c.cka).toBeGreaterThan(0);
    expect(["I", "II-A", "II-B"]).toContain(c.regime);
  }
  expect(json.claims.length).toBe(6);
  for (const c of json.claims) {
    expect(["REPRODUCED", "NOT REPRODUCED", "INCONCLUSIVE"]).toContain(c.verdict);
    expect(md).toContain(`| ${c.claim} |`);
    expect(md).toContain(`**${c.verdict}**`);
  }
  for (const c of json.cells) expect(md).toContain(`| ${c.temperature} | ${+(100 * c.density).toFixed(1)}% | ${c.testError.toFixed(4)} |`);
  expect(md).toContain("dataset | synthetic");
  expect(md).toContain("Scaled down from the paper's protocol");
  expect(readFileSync(join(reports, "fig2-regimes.svg"), "utf8")).toStartWith("<svg");
  // A second run reuses every unit.
  const again = Bun.spawnSync([process.execPath, join(REPO, "repro/fig2.ts"), "--preset", "smoke", "--runs-dir", join(dir, "runs"), "--report-dir", join(dir, "reports2")], { stdout: "pipe", stderr: "pipe" });
  expect(again.exitCode).toBe(0);
  expect(readFileSync(join(dir, "reports2", "fig2.md"), "utf8")).toContain("0 units run, 13 reused from the run store");
}, 180_000);

test("each temperature axis plans its dense runs: one for epochs, one per batch size, one per SAM rho", () => {
  const plan = (axis: string) => {
    const r = Bun.spawnSync([process.execPath, join(REPO, "repro/fig2.ts"), "--preset", "smoke", "--temperature", axis, "--dry-run", "--runs-dir", join(mkdtempSync(join(tmpdir(), "fig2-")), "runs")], { stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(0);
    return r.stderr.toString();
  };
  // smoke: 2 temperatures x 2 densities x 2 seeds = 8 retrains, 4 cells.
  expect(plan("epochs")).toContain("plan: 13 units (dense: 1 (0 complete), retrain: 8 (0 complete), cell: 4 (0 complete))");
  expect(plan("batch-size")).toContain("plan: 14 units (dense: 2 (0 complete), retrain: 8 (0 complete), cell: 4 (0 complete))");
  expect(plan("sam")).toContain("plan: 14 units (dense: 2 (0 complete), retrain: 8 (0 complete), cell: 4 (0 complete))");
}, 60_000);

test("repro:fig2 --temperature sam trains with SAM and completes", () => {
  const dir = mkdtempSync(join(tmpdir(), "fig2-sam-"));
  const r = Bun.spawnSync([process.execPath, join(REPO, "repro/fig2.ts"), "--preset", "smoke", "--temperature", "sam", "--runs-dir", join(dir, "runs"), "--report-dir", join(dir, "reports")], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(r.stderr.toString().slice(-2000));
  const json = JSON.parse(readFileSync(join(dir, "reports", "fig2.json"), "utf8"));
  expect(json.cells.map((c: { temperature: number }) => c.temperature)).toEqual([0.4, 0.4, 0.1, 0.1]);
  expect(readFileSync(join(dir, "reports", "fig2.md"), "utf8")).toContain("SAM rho (larger = hotter)");
}, 180_000);

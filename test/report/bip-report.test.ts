import { expect, test } from "bun:test";
import type { MethodPoint } from "../../src/report/bip-claims.ts";
import { renderBip, type BipData } from "../../src/report/bip-report.ts";
import { tableRows } from "../helpers/markdown-tables.ts";
import { methodPoint } from "../helpers/method-points.ts";
import { bipData } from "../helpers/report-fixtures.ts";

/**
 * reports/bip-vs-imp.md's text from hand-built points and settings: the speedup table,
 * the protocol lines that follow the settings, the departures, and filter-wise BiP's trend.
 */
const md = async (d: BipData) => (await renderBip(d)).markdown;

test("speedups: IMP's time over BiP's at each configured sparsity, with and without the pretraining; a sparsity missing either method is -", async () => {
  const d = bipData(["IMP", "BiP"]);
  // BiP first in the list, its times differing by target: each row must pick its own method and target.
  const points: MethodPoint[] = [
    methodPoint("BiP", 0.2, 0.9, 20),
    methodPoint("BiP", 0.59, 0.9, 40),
    methodPoint("IMP", 0.2, 0.9, 50),
    methodPoint("IMP", 0.59, 0.9, 200),
    methodPoint("IMP", 0.74, 0.9, 300),
  ];
  const got = await md({ ...d, points, dense: { ...d.dense, seconds: 60 }, config: { ...d.config, sparsities: [0.2, 0.59, 0.74, 0.87] } });
  // 50 / 20 = 2.50x, (50 + 60) / (20 + 60) = 1.38x; 200 / 40 = 5.00x, 260 / 100 = 2.60x; 74% has no BiP point; 87% none at all.
  expect(tableRows(got, ["sparsity", "measured"])).toEqual([
    ["20.0%", "2.50x", "1.38x", "-"],
    ["59.0%", "5.00x", "2.60x", "3.2x"],
    ["74.0%", "-", "-", "4.8x"],
    ["87.0%", "-", "-", "7.2x"],
  ]);
  expect(tableRows(got, ["target", "method"]).map((r) => r.slice(0, 2))).toEqual([
    ["20.0%", "BiP"],
    ["59.0%", "BiP"],
    ["20.0%", "IMP"],
    ["59.0%", "IMP"],
    ["74.0%", "IMP"],
  ]);
});

test("the protocol lines follow the settings: seeds, iterations per epoch, the epoch ratio, the verdict tolerance, the implicit gradient, the mask phases", async () => {
  const d = bipData(["IMP", "BiP"]);
  const c = d.config;
  const base = await md(d);
  expect(base).toMatch(/\| seeds \| 1, 2, 3 \|/);
  expect(base).toContain(`- Ratio of IMP epochs per round to BiP epochs: ${(c.imp.epochs / c.bip.epochs).toFixed(2)} (the paper: 160 / 100 = 1.6).`);
  expect(base).toContain(c.bip.iterations === "two-passes" ? "theta-steps on one shuffle" : "its mini-batches alternating");
  expect(base).toContain(`trails by less than ${(100 * c.verdicts.accuracyTolerance).toFixed(1)} points beyond that noise`);
  expect(base).toContain("- Implicit gradient: the paper's Algorithm A1 (-(1/gamma) g_z * g_theta)");
  expect(base).toContain(`- Mask learning rate: x${c.bip.maskLrDecay} at 75% and 90% of the iterations`);

  const other = await md({
    ...d,
    config: {
      ...c,
      seeds: [4, 5],
      imp: { ...c.imp, epochs: 30 },
      bip: { ...c.bip, epochs: 20, iterations: c.bip.iterations === "two-passes" ? "one-pass" : "two-passes", variant: "code", codeLr2: 0.7, includeFc: false },
      verdicts: { ...c.verdicts, accuracyTolerance: 0.012 },
    },
  });
  expect(other).toMatch(/\| seeds \| 4, 5 \|/);
  expect(other).toContain("- Ratio of IMP epochs per round to BiP epochs: 1.50 (the paper");
  expect(other).toContain(c.bip.iterations === "two-passes" ? "its mini-batches alternating" : "theta-steps on one shuffle");
  expect(other).toContain("trails by less than 1.2 points beyond that noise");
  expect(other).toContain("- Implicit gradient: the public code's -lr2 * g_scores * g_theta (lr2 0.7)");
  expect(other).toContain("the fc is not in the unstructured top-k");
});

test("a scaled-down run and units that did not complete are said; neither line otherwise", async () => {
  const d = bipData(["IMP", "BiP"]);
  const got = await md({ ...d, scaledDown: ["20 epochs instead of 160", "one seed"], failed: ["bip-1: diverged", "imp-2: killed"] });
  expect(got).toContain("**Scaled down from the paper's protocol:** 20 epochs instead of 160; one seed.");
  expect(got).toContain("**Units that did not complete:** bip-1: diverged; imp-2: killed");
  const plain = await md(d);
  expect(plain).not.toContain("Scaled down from");
  expect(plain).not.toContain("did not complete");
});

test("filter-wise BiP's trend: a plateau still falls (never rises), the running-statistics line only when every point has one", async () => {
  const f = (t: number, acc: number, run?: number): MethodPoint => ({
    method: "BiP-filter",
    target: t,
    sparsity: t,
    accuracies: [acc],
    ...(run === undefined ? {} : { accuraciesRunningBn: [run] }),
    seconds: [1],
  });
  const d = bipData(["IMP", "BiP", "BiP-filter"]);
  const trend = (ps: MethodPoint[]) => md({ ...d, points: [...d.points.filter((p) => p.method !== "BiP-filter"), ...ps] });
  expect(await trend([f(0.8, 0.7, 0.6), f(0.2, 0.8, 0.79)])).toContain(
    "Its accuracy over increasing sparsity: 80.0 -> 70.0% with re-estimated BN (falling at every step), 79.0 -> 60.0% with the running statistics (falling at every step). Re-estimating BN under the final mask, which removes the stale statistics of channels switched on or off late, changes it by 1.0, 10.0 points.",
  );
  const bumpy = await trend([f(0.2, 0.8), f(0.5, 0.82), f(0.8, 0.7)]);
  expect(bumpy).toContain("80.0 -> 82.0 -> 70.0% with re-estimated BN (**not monotonic**).");
  expect(bumpy).not.toContain("with the running statistics");
  expect(await trend([f(0.2, 0.8, 0.8)])).not.toContain("Its accuracy over increasing sparsity");
  expect(await trend([f(0.2, 0.8), f(0.5, 0.8), f(0.8, 0.7)])).toContain("80.0 -> 80.0 -> 70.0% with re-estimated BN (falling at every step).");
  const partly = await trend([f(0.2, 0.8, 0.79), f(0.5, 0.75)]);
  expect(partly).toContain("80.0 -> 75.0% with re-estimated BN (falling at every step).");
  expect(partly).not.toContain("with the running statistics");
  // Only the filter-wise line carries the trend.
  const lines = (await trend([f(0.2, 0.8), f(0.5, 0.7)])).split("\n");
  expect(lines.filter((l) => l.includes("Its accuracy over increasing sparsity")).map((l) => l.slice(0, 13))).toEqual(["- BiP-filter:"]);
});

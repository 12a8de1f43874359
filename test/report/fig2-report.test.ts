import { expect, test } from "bun:test";
import type { Fig2Config } from "../../src/config/generated/fig2.ts";
import type { Fig2Cell } from "../../src/report/fig2-claims.ts";
import { renderFig2, type Fig2Data } from "../../src/report/fig2-report.ts";
import { tableRows } from "../helpers/markdown-tables.ts";
import { fig2Cells, fig2Data } from "../helpers/report-fixtures.ts";

/**
 * reports/fig2.md's text from hand-built cells and settings: the cell table, the header's
 * seed and time lines, the protocol and verdict lines, and what follows the preset.
 */
const withConfig = (d: Fig2Data, over: Partial<Fig2Config>): Fig2Data => ({ ...d, config: { ...d.config, ...over } });
const seeds = (dense: number[], retrain: number[]) => ({ seeds: { dense, retrain } as Fig2Config["seeds"] });

/** One cell with two dense seeds' retrained models and their pairs, every number chosen by hand. */
function measuredCell(): Fig2Cell {
  return {
    temperature: 5,
    hotRank: 0,
    density: 0.05,
    testError: 0.25,
    seedErrors: [0.24, 0.245, 0.255, 0.26],
    denseSeedErrors: [
      { seed: 1, error: 0.2425 },
      { seed: 2, error: null },
    ],
    testErrorStdErr: 0.01,
    pairs: [
      { denseSeed: 1, retrainSeeds: [1, 2], lmcBarrier: 0.0114, lmcStdErr: 0.004, cka: 0.9126, ckaStdErr: 0.001 },
      { denseSeed: 2, retrainSeeds: [1, 2], lmcBarrier: -0.0086, lmcStdErr: 0.004, cka: 0.8875, ckaStdErr: 0.001 },
    ],
    errorFrom: "groups",
    lmcBarrier: 0.0014,
    lmcStdErr: 0.005,
    cka: 0.9,
    ckaStdErr: null,
    regime: "II-B",
  };
}

test("every cell: error ± s.e. to 4 places, per dense seed and per model, LMC and CKA with their pairs, the regime; gaps as -", async () => {
  const base = fig2Data();
  const empty: Fig2Cell = {
    ...measuredCell(),
    temperature: 12,
    hotRank: 1,
    testError: null,
    seedErrors: [],
    denseSeedErrors: [
      { seed: 1, error: null },
      { seed: 2, error: null },
    ],
    testErrorStdErr: null,
    pairs: [],
    lmcBarrier: null,
    lmcStdErr: null,
    cka: null,
    regime: null,
  };
  const md = (await renderFig2({ ...withConfig(base, seeds([1, 2], [1, 2])), cells: [empty, measuredCell()] })).markdown;
  expect(tableRows(md, "temperature")).toEqual([
    ["5", "5%", "0.2500 ± 0.0100", "0.2425 / -", "0.2400 / 0.2450 / 0.2550 / 0.2600", "0.001 ± 0.005", "0.011 / -0.009", "0.900", "0.913 / 0.887", "II-B"],
    ["12", "5%", "-", "- / -", "", "-", "", "-", "", "-"],
  ]);
});

test("the seeds line counts every pair of retrain seeds under every dense seed; the wall-time line in minutes", async () => {
  const d = { ...fig2Data(), wallSeconds: 90, computeSeconds: 600, unitsRun: 2, unitsReused: 3 };
  const md = (await renderFig2(d)).markdown;
  expect(md).toContain("| dense 1, 2, 3; retrain 1, 2, 3 (every pair: 9 LMC/CKA values per cell) |");
  expect(md).toContain(
    "| 1.5 min this invocation (2 units run, 3 reused from the run store); 10.0 min of unit compute in total (a pack of units counted once) |",
  );
  const four = (await renderFig2(withConfig(d, seeds([1, 2], [1, 2, 3, 4])))).markdown;
  expect(four).toContain("(every pair: 12 LMC/CKA values per cell)");
});

test("the seed departures: fewer than 3 retrain or dense seeds each named, with the pair counts worked out", async () => {
  const md = (await renderFig2(withConfig(fig2Data(), seeds([1, 2], [1, 2, 3])))).markdown;
  expect(md).toContain("- LMC and CKA: the mean over 3 pair(s) of 3 retrain seeds under each of 2 dense seed(s), 6 value(s) per cell;");
  expect(md).toContain("- 2 dense seed(s) (1, 2); the authors' figure averages 3 dense seeds");
});

test("the dense-training line: the dense epochs, said to vary off the epochs axis; the step schedule's decays, none for cosine", async () => {
  const base = fig2Data();
  const epochs = (await renderFig2(base)).markdown;
  const line = (md: string) => md.split("\n").find((l) => l.startsWith("- Dense training:"))!;
  const o = base.config.dense.optim;
  expect(line(epochs)).toBe(
    `- Dense training: ${o.epochs} epochs, batch ${o.batchSize}, SGD lr ${o.lr}, momentum ${o.momentum}, weight decay ${o.weightDecay}, step schedule (x${o.schedule.gamma} at ${o.schedule.milestones.join(", ")} of training); augmentation crop ${base.config.dense.data.cropPadding}px + flip ${base.config.dense.data.flip}.`,
  );
  const sam = (await renderFig2({ ...base, axis: "sam" })).markdown;
  expect(line(sam)).toContain(`${o.epochs} epochs (varied by the axis), batch`);
  const cosine = withConfig(base, { dense: { ...base.config.dense, optim: { ...o, schedule: { ...o.schedule, kind: "cosine" } } } });
  expect(line((await renderFig2(cosine)).markdown)).toContain(`weight decay ${o.weightDecay}, cosine schedule; augmentation`);
});

test("the verdicts line prints the settings it judges with: barrier corner and error-range tolerances as percentages", async () => {
  const base = fig2Data();
  const v = base.config.verdicts;
  const md = (
    await renderFig2(
      withConfig(base, {
        verdicts: { ...v, barrierCorner: { densityShare: 0.25, temperatureShare: 0.4 }, errorRangeTolerance: { highDensity: 0.015, lowDensity: 0.04 } },
      }),
    )
  ).markdown;
  expect(md).toContain("outside the corner of the lowest 25% of densities and coldest 40% of temperatures");
  expect(md).toContain("within 1.5 points at the highest density and 4.0 at the lowest");
});

test("a scaled-down run says what it scaled down", async () => {
  const md = (await renderFig2({ ...fig2Data(), scaledDown: ["3 epochs instead of 160", "width 4 instead of 16"] })).markdown;
  expect(md).toContain("**Scaled down from the paper's protocol:** 3 epochs instead of 160; width 4 instead of 16.");
  expect((await renderFig2(fig2Data())).markdown).not.toContain("Scaled down from");
});

test("error levels are judged against the paper's only on the paper preset on CIFAR-10", async () => {
  const verdict = async (preset: string, dataset: string) =>
    (await renderFig2({ ...fig2Data(), preset, dataset: { ...fig2Data().dataset, name: dataset } })).claims.find((c) => c.id === "fig2.error-range")!;
  for (const [preset, dataset] of [
    ["smokepreset", "cifar10"],
    ["paper", "tinyset"],
  ])
    expect((await verdict(preset!, dataset!)).reason).toContain("only comparable on the full protocol");
  expect((await verdict("paper", "cifar10")).reason).not.toContain("only comparable on the full protocol");
});

test("the single-panel figures carry the panel's subtitle and the rows line; a cell without a regime reads n/a", async () => {
  const cells = fig2Cells();
  cells[0] = { ...cells[0]!, regime: null, lmcBarrier: null };
  const { svgs } = await renderFig2({ ...fig2Data(), cells });
  expect(svgs["fig2-lmc.svg"]).toContain("white: threshold");
  expect(svgs["fig2-lmc.svg"]).toContain("rows: dense training epochs (fewer = hotter), hottest at the top");
  expect(svgs["fig2-regimes.svg"]).toMatch(/>n\/a<\/text>/);
});

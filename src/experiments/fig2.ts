import type { Fig2Config } from "../config/generated/fig2.ts";
import type { UnitRecord } from "../config/generated/record.ts";
import { loadPresetConfig } from "../config/presets.ts";
import { fig2CellsCsv } from "../report/csv.ts";
import type { Fig2Cell } from "../report/fig2-claims.ts";
import { renderFig2, type Fig2Data } from "../report/fig2-report.ts";
import { autoPickNote, computeSeconds, fallbackNote, precisionNote, trainFingerprintsOf } from "../report/markdown.ts";
import { metricImages } from "../runner/kinds/cell-pair-metrics.ts";
import { runUnits, type RunOutcome } from "../runner/run-units.ts";
import { loadData, trainImagesOf } from "../train/setup.ts";
import { notice } from "../util/notice.ts";
import { runContext, type RunContext } from "../util/provenance.ts";
import { commandLine, publishReport, unitFailures, type ExperimentOptions } from "./common.ts";
import { fig2Cells, type Fig2GridCell } from "./fig2-cells.ts";
import { DENSE_STREAM, planFig2, retrainStream } from "./fig2-plan.ts";
import { checkAxisSettings, checkBatchSizes, checkSeedSettings, resolvePrune, scaledDown } from "./fig2-settings.ts";

export { DENSE_STREAM, planFig2, retrainStream } from "./fig2-plan.ts";
export { checkAxisSettings, checkSeedSettings, scaledDown } from "./fig2-settings.ts";

export type Fig2Options = ExperimentOptions;

/** The resolved settings, checked: a setting the grid sets itself is an error that says what to set instead. */
function fig2Settings(opts: Fig2Options): Fig2Config {
  const cfg = loadPresetConfig<Fig2Config>("fig2", "fig2", opts.preset, opts.overrides, opts.configFiles);
  checkAxisSettings(cfg, loadPresetConfig<Fig2Config>("fig2", "fig2", opts.preset), opts.overrides);
  checkSeedSettings(cfg, opts.overrides);
  return { ...cfg, prune: resolvePrune(cfg) };
}

/** The engines, precisions and threads the records ran with, in one line for the report header. */
function engineLine(records: UnitRecord[]): string {
  const any = records[0];
  if (!any) return "n/a";
  return `${any.env.engine}/${any.env.provider}, ${precisionNote(records)}, ${[...new Set(records.map((r) => r.env.threads))].join(" or ")} thread(s) per unit${autoPickNote(records)}${fallbackNote(records)}`;
}

/** fig2.json: the settings, the cells, the claims and which units made each cell. */
function fig2Json(o: {
  context: RunContext;
  preset: string;
  cfg: Fig2Config;
  dataset: { name: string; source: string };
  cells: Fig2Cell[];
  claims: unknown;
  grid: Fig2GridCell[];
}): string {
  const units = Object.fromEntries(
    o.grid.map((g) => [
      `${g.value}@${g.density}`,
      g.bySeed.map((s) => ({ denseSeed: s.denseSeed, dense: s.dense.id, retrains: s.retrains.map((r) => r.unit.id), cell: s.cell.id })),
    ]),
  );
  return JSON.stringify({ context: o.context, preset: o.preset, config: o.cfg, dataset: o.dataset, cells: o.cells, claims: o.claims, units }, null, 2) + "\n";
}

/**
 * The three-regime phase diagram (Zhou et al., ICML 2023, Fig. 2): dense models at
 * several temperatures, each pruned one-shot to several densities and retrained with
 * two or more seeds; test error, LMC and CKA per cell; regimes; a report that checks
 * the paper's claims. Every step is a runner unit (planned in fig2-plan.ts; the cells
 * read from their records in fig2-cells.ts). Returns false when a unit failed.
 */
export async function runFig2(opts: Fig2Options): Promise<boolean> {
  const started = performance.now();
  // The code that runs is the code at start; the tree may change while a long grid runs.
  const context = runContext();
  const cfg = fig2Settings(opts);
  // Loads (or downloads) the data once, before any unit runs; fails early on a bad path.
  // A dry run touches nothing, so it sizes the grid from the dataset's nominal size.
  const data = opts.dryRun ? null : await loadData(cfg.dense, notice);
  const trainImages = trainImagesOf(cfg.dense, data);
  checkBatchSizes(cfg, trainImages);
  const { units, grid, temperatures, window } = planFig2(cfg, trainImages);
  const out = await runUnits(units, opts.runner, {
    dryRun: opts.dryRun,
    reportDir: opts.reportDir,
    outputDirs: [{ dir: opts.reportDir, flag: "--report-dir" }],
  });
  if (!out || !data) return true;

  const cells = fig2Cells(grid, (id) => out.records.get(id)?.metrics, cfg, metricImages(cfg.metrics.lmcImages, data.train.count));
  const dataset = { name: data.name, source: data.source, train: data.train.count, test: data.test.count };
  const failed = unitFailures(out);
  const report = await renderFig2(
    reportData({ context, opts, cfg, out, cells, dataset, temperatures, window, failed, seconds: (performance.now() - started) / 1000 }),
  );
  const json = fig2Json({ context, preset: opts.preset, cfg, dataset: { name: data.name, source: data.source }, cells, claims: report.claims, grid });
  // Failed or blocked units: written beside the last complete report as fig2.partial.md etc., which stays as it was.
  return publishReport(
    opts.reportDir,
    { ...report.svgs, "fig2.json": json, "fig2-cells.csv": fig2CellsCsv(cells), "fig2.md": report.markdown },
    "fig2.md",
    failed,
  );
}

/** What the report is rendered from: the cells and the run's context, counts and provenance. */
function reportData(o: {
  context: RunContext;
  opts: Fig2Options;
  cfg: Fig2Config;
  out: RunOutcome;
  cells: Fig2Cell[];
  dataset: Fig2Data["dataset"];
  temperatures: number[];
  window: Fig2Data["errorWindow"];
  failed: Fig2Data["failed"];
  seconds: number;
}): Fig2Data {
  const records = [...o.out.records.values()];
  return {
    context: o.context,
    preset: o.opts.preset,
    command: commandLine("repro:fig2", o.opts),
    config: o.cfg,
    axis: o.cfg.temperature.axis,
    temperatures: o.temperatures,
    densities: o.cfg.densities,
    cells: o.cells,
    dataset: o.dataset,
    engine: engineLine(records),
    unitCommits: [...new Set(records.map((r) => r.env.commit))],
    wallSeconds: o.seconds,
    computeSeconds: computeSeconds(records),
    unitsRun: o.out.ran.length,
    unitsReused: o.out.reused.length,
    failed: o.failed,
    scaledDown: scaledDown(o.cfg, o.dataset.name),
    errorWindow: o.window,
    streams: { dense: DENSE_STREAM, retrain: retrainStream("d") },
    // Units meant to share data (dense, every retrain seed, the cells' metric images) must have.
    trainFingerprints: trainFingerprintsOf(records),
  };
}

import type { Fig2Config } from "../config/generated/fig2.ts";
import type { TrainingConfig } from "../config/generated/training.ts";
import { ConfigError, validateConfig } from "../config/load.ts";
import { loadPresetConfig } from "../config/presets.ts";
import { lmcBarrierStdErr } from "../metrics/lmc.ts";
import { regimeOf, type Fig2Cell } from "../report/fig2-claims.ts";
import { renderFig2 } from "../report/fig2-report.ts";
import { computeSeconds, fallbackNote, precisionNote, trainFingerprintsOf } from "../report/markdown.ts";
import { runUnits } from "../runner/run-units.ts";
import { mkUnit, type Unit } from "../runner/unit.ts";
import { errorWindow } from "../train/schedule.ts";
import { checkBatchSize, loadData, trainImagesOf } from "../train/setup.ts";
import { fig2CellsCsv } from "../report/csv.ts";
import { notice } from "../util/notice.ts";
import { runContext } from "../util/provenance.ts";
import { dataDepartures, publishReport, type ExperimentOptions } from "./common.ts";

interface Temperature {
  value: number;
  dense: Unit<unknown>;
  epoch: number;
}

/** Dense units and the snapshot each temperature uses, hottest first. */
function temperatures(cfg: Fig2Config, trainCount: number): Temperature[] {
  const t = cfg.temperature;
  const denseDefaults = { training: validateConfig("training", {}) };
  const curve = cfg.denseTestEveryEpoch ? { testEveryEpoch: true } : {};
  const dense = (training: TrainingConfig, snapshots: number[], label: string) => mkUnit("dense", { training, snapshots, ...curve }, [], label, denseDefaults);
  if (t.axis === "epochs") {
    const epochs = [...new Set(t.epochs)].sort((a, b) => a - b);
    const training = { ...cfg.dense, optim: { ...cfg.dense.optim, epochs: Math.max(...epochs) } };
    const u = dense(training, epochs, `dense ${training.optim.epochs} epochs`);
    return epochs.map((e) => ({ value: e, dense: u, epoch: e }));
  }
  if (t.axis === "batch-size") {
    return [...new Set(t.batchSizes)]
      .sort((a, b) => a - b)
      .map((b) => {
        const epochs = Math.max(1, Math.round((t.iterations * b) / trainCount));
        const u = dense({ ...cfg.dense, optim: { ...cfg.dense.optim, batchSize: b, epochs } }, [epochs], `dense batch ${b}`);
        return { value: b, dense: u, epoch: epochs };
      });
  }
  return [...new Set(t.samRhos)]
    .sort((a, b) => b - a)
    .map((rho) => {
      const u = dense({ ...cfg.dense, optim: { ...cfg.dense.optim, samRho: rho } }, [cfg.dense.optim.epochs], `dense SAM rho ${rho}`);
      return { value: rho, dense: u, epoch: cfg.dense.optim.epochs };
    });
}

/**
 * The dense settings each temperature axis sets itself (temperatures() above), what to
 * set instead, and the axes that leave the setting alone.
 */
const AXIS_SETS: Record<Fig2Config["temperature"]["axis"], { setting: keyof TrainingConfig["optim"]; instead: string }[]> = {
  epochs: [{ setting: "epochs", instead: "set temperature.epochs instead (the dense run lasts its largest value)" }],
  "batch-size": [
    { setting: "batchSize", instead: "set temperature.batchSizes instead" },
    { setting: "epochs", instead: "set temperature.iterations instead (epochs = round(iterations x batch / training images))" },
  ],
  sam: [{ setting: "samRho", instead: "set temperature.samRhos instead" }],
};

/** The values of the axis's own list, as --set takes them. */
function axisValues(t: Fig2Config["temperature"]): string {
  return t.axis === "epochs"
    ? `temperature.epochs=${t.epochs.join(",")}`
    : t.axis === "batch-size"
      ? `temperature.batchSizes=${t.batchSizes.join(",")}`
      : `temperature.samRhos=${t.samRhos.join(",")}`;
}

/**
 * A dense setting that the chosen temperature axis replaces is a ConfigError when the
 * user set it: with --set (`overrides`, its path given), or in a --config file (its value
 * differs from the preset's), since the run would silently use the axis's value instead.
 * `preset` is the preset's own config (defaults filled), so a preset value left in place,
 * or a --print-config file that repeats it, is no error.
 */
export function checkAxisSettings(cfg: Fig2Config, preset: Fig2Config, overrides: string[] = []): void {
  const t = cfg.temperature;
  const setPaths = new Set(overrides.map((o) => o.slice(0, o.indexOf("=")).trim()));
  const problems = AXIS_SETS[t.axis]
    .filter(({ setting }) => setPaths.has(`dense.optim.${setting}`) || cfg.dense.optim[setting] !== preset.dense.optim[setting])
    .map(({ setting, instead }) => {
      const others = (Object.keys(AXIS_SETS) as (keyof typeof AXIS_SETS)[]).filter((a) => !AXIS_SETS[a].some((x) => x.setting === setting));
      return (
        `dense.optim.${setting}=${cfg.dense.optim[setting]} is set by the temperature axis "${t.axis}" (${axisValues(t)}), which replaces it; ` +
        `${instead}, or choose ${others.map((a) => `--temperature ${a}`).join(" or ")}, which keeps dense.optim.${setting}`
      );
    });
  if (problems.length) throw new ConfigError(problems.join("\n"));
}

/** Every batch size the grid trains with against the training images (the dataset's size, or its nominal size on a dry run). */
function checkBatchSizes(cfg: Fig2Config, trainImages: number): void {
  const t = cfg.temperature;
  const denseData = { path: "dense.data", cfg: cfg.dense.data };
  if (t.axis === "batch-size") for (const b of t.batchSizes) checkBatchSize("temperature.batchSizes", b, trainImages, denseData);
  else checkBatchSize("dense.optim.batchSize", cfg.dense.optim.batchSize, trainImages, denseData);
  checkBatchSize("retrain.batchSize", cfg.retrain.batchSize, trainImages, denseData);
}

/** How this configuration departs from the paper's protocol (the paper preset), in words for the report. */
export function scaledDown(cfg: Fig2Config, datasetName: string): string[] {
  const paper = loadPresetConfig<Fig2Config>("fig2", "fig2", "paper", []);
  const n = (x: number) => x.toLocaleString("en-US");
  const out = dataDepartures(datasetName, cfg.dense.data.trainLimit, paper.dense.data);
  if (cfg.dense.model.width !== paper.dense.model.width) out.push(`PreResNet-20 width ${cfg.dense.model.width} instead of ${paper.dense.model.width}`);
  if (cfg.dense.optim.epochs !== paper.dense.optim.epochs && cfg.temperature.axis !== "batch-size")
    out.push(`${cfg.dense.optim.epochs} dense epochs instead of ${paper.dense.optim.epochs} (schedule decays at the same fractions)`);
  if (cfg.retrain.epochs !== paper.retrain.epochs) out.push(`${cfg.retrain.epochs} retrain epochs instead of ${paper.retrain.epochs}`);
  if (cfg.temperature.axis === "epochs" && cfg.temperature.epochs.length < paper.temperature.epochs.length)
    out.push(`${cfg.temperature.epochs.length} temperatures instead of ${paper.temperature.epochs.length}`);
  if (cfg.densities.length < paper.densities.length) out.push(`${cfg.densities.length} densities instead of ${paper.densities.length}`);
  if (cfg.retrainSeeds.length < paper.retrainSeeds.length) out.push(`${cfg.retrainSeeds.length} retrain seeds instead of ${paper.retrainSeeds.length}`);
  const m = cfg.metrics,
    pm = paper.metrics;
  if (m.lmcImages < pm.lmcImages || m.bnImages < pm.bnImages)
    out.push(`LMC errors on ${m.lmcImages} and BN re-estimation on ${m.bnImages} training images instead of the full training set`);
  if (m.ckaImages !== pm.ckaImages) out.push(`CKA on ${m.ckaImages} images instead of ${n(pm.ckaImages)}`);
  return out;
}
export type Fig2Options = ExperimentOptions;

/**
 * The three-regime phase diagram (Zhou et al., ICML 2023, Fig. 2): dense models at
 * several temperatures, each pruned one-shot to several densities and retrained with
 * two or more seeds; test error, LMC and CKA per cell; regimes; a report that checks
 * the paper's claims. Every step is a runner unit. Returns false when a unit failed.
 */
export async function runFig2(opts: Fig2Options): Promise<boolean> {
  const started = performance.now();
  // The code that runs is the code at start; the tree may change while a long grid runs.
  const context = runContext();
  const cfg = loadPresetConfig<Fig2Config>("fig2", "fig2", opts.preset, opts.overrides, opts.configFiles);
  const runner = opts.runner;
  if (cfg.retrainSeeds.length < 2) throw new ConfigError("retrainSeeds: LMC and CKA need at least 2 retrain seeds");
  checkAxisSettings(cfg, loadPresetConfig<Fig2Config>("fig2", "fig2", opts.preset), opts.overrides);
  // Loads (or downloads) the data once, before any unit runs; fails early on a bad path.
  // A dry run touches nothing, so it sizes the grid from the dataset's nominal size.
  const data = opts.dryRun ? null : await loadData(cfg.dense, notice);
  const trainImages = trainImagesOf(cfg.dense, data);
  checkBatchSizes(cfg, trainImages);
  const temps = temperatures(cfg, trainImages);
  const retrainOptim = cfg.retrain;
  const window = errorWindow(retrainOptim.schedule, retrainOptim.lr, retrainOptim.epochs, cfg.metrics.errorWindow);
  const units: Unit<unknown>[] = [...new Map(temps.map((t) => [t.dense.id, t.dense])).values()];
  const retrainDefaults = { training: validateConfig("training", {}) };
  const cellDefaults = { training: validateConfig("training", {}), metrics: validateConfig<Fig2Config>("fig2", {}).metrics };
  const grid: { t: Temperature; rank: number; density: number; retrains: Unit<unknown>[]; cell: Unit<unknown> }[] = [];
  temps.forEach((t, rank) => {
    for (const density of cfg.densities) {
      const retrains = cfg.retrainSeeds.map((seed) =>
        mkUnit(
          "retrain",
          { training: { ...cfg.dense, seed, optim: retrainOptim }, source: { unit: t.dense.id, epoch: t.epoch }, density, lastEpochs: window.count },
          [t.dense.id],
          `retrain T=${t.value} d=${density} seed ${seed}`,
          retrainDefaults,
        ),
      );
      const pair = retrains.slice(0, 2).map((u) => u.id);
      const cell = mkUnit("cell", { training: cfg.dense, models: pair, metrics: cfg.metrics }, pair, `cell T=${t.value} d=${density}`, cellDefaults);
      units.push(...retrains, cell);
      grid.push({ t, rank, density, retrains, cell });
    }
  });
  const out = await runUnits(units, runner, { dryRun: opts.dryRun, reportDir: opts.reportDir, outputDirs: [{ dir: opts.reportDir, flag: "--report-dir" }] });
  if (!out || !data) return true;

  const cells: Fig2Cell[] = grid.map((g) => {
    const seedErrors = g.retrains
      .map((u) => out.records.get(u.id)?.metrics.testError as number | null | undefined)
      .filter((e): e is number => typeof e === "number");
    const cm = out.records.get(g.cell.id)?.metrics as
      { lmcBarrier: number; lmcTStar: number; lmcPath: { t: number; error: number }[]; cka: number; ckaStdErr?: number | null } | undefined;
    const lmcBarrier = cm?.lmcBarrier ?? null,
      cka = cm?.cka ?? null;
    const tStar = cm ? cm.lmcPath.findIndex((p) => p.t === cm.lmcTStar) : -1;
    const lmcStdErr =
      cm && tStar >= 0
        ? lmcBarrierStdErr(
            cm.lmcPath.map((p) => p.error),
            tStar,
            Math.min(cfg.metrics.lmcImages, data.train.count),
          )
        : null;
    return {
      temperature: g.t.value,
      hotRank: g.rank,
      density: g.density,
      testError: seedErrors.length === g.retrains.length ? seedErrors.reduce((a, b) => a + b, 0) / seedErrors.length : null,
      seedErrors,
      lmcBarrier,
      lmcStdErr,
      cka,
      ckaStdErr: cm?.ckaStdErr ?? null,
      regime: regimeOf(lmcBarrier, cka, cfg.regimes),
    };
  });
  const records = [...out.records.values()];
  const anyRecord = records[0];
  const failed = [
    ...out.failed.map((f) => ({ unit: f.label ?? f.id, error: f.error })),
    ...out.blocked.map((b) => ({ unit: b, error: "blocked by a failed dependency" })),
  ];
  const report = await renderFig2({
    context,
    preset: opts.preset,
    config: cfg,
    axis: cfg.temperature.axis,
    temperatures: temps.map((t) => t.value),
    densities: cfg.densities,
    cells,
    dataset: { name: data.name, source: data.source, train: data.train.count, test: data.test.count },
    engine: anyRecord
      ? `${anyRecord.env.engine}/${anyRecord.env.provider}, ${precisionNote(records)}, ${[...new Set(records.map((r) => r.env.threads))].join(" or ")} thread(s) per unit${fallbackNote(records)}`
      : "n/a",
    unitCommits: [...new Set(records.map((r) => r.env.commit))],
    wallSeconds: (performance.now() - started) / 1000,
    computeSeconds: computeSeconds(records),
    unitsRun: out.ran.length,
    unitsReused: out.reused.length,
    failed,
    scaledDown: scaledDown(cfg, data.name),
    errorWindow: window,
    // Units meant to share data (dense, every retrain seed, the cells' metric images) must have.
    trainFingerprints: trainFingerprintsOf(records),
  });
  const json =
    JSON.stringify(
      {
        context,
        preset: opts.preset,
        config: cfg,
        dataset: { name: data.name, source: data.source },
        cells,
        claims: report.claims,
        units: Object.fromEntries(grid.map((g) => [`${g.t.value}@${g.density}`, { retrains: g.retrains.map((u) => u.id), cell: g.cell.id }])),
      },
      null,
      2,
    ) + "\n";
  // Failed or blocked units: written beside the last complete report as fig2.partial.md etc., which stays as it was.
  return publishReport(
    opts.reportDir,
    { ...report.svgs, "fig2.json": json, "fig2-cells.csv": fig2CellsCsv(cells), "fig2.md": report.markdown },
    "fig2.md",
    failed,
  );
}

import type { Fig2Config } from "../config/generated/fig2.ts";
import type { TrainingConfig } from "../config/generated/training.ts";
import { ConfigError, overridePaths, validateConfig } from "../config/load.ts";
import { loadPresetConfig } from "../config/presets.ts";
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
import { fig2Cells, type Fig2GridCell, type Fig2SeedCell } from "./fig2-cells.ts";

interface Temperature {
  value: number;
  dense: Unit<unknown>;
  epoch: number;
}

/**
 * The data stream of each role (TrainingConfig.stream): the dense runs draw theirs, and
 * the retraining under each dense seed its own, so no retrain seed replays a dense run's
 * order and augmentation. Retrain seed r is one stream across the cells of a dense seed,
 * as the authors' seeded retraining is (common random numbers across cells).
 */
export const DENSE_STREAM = "dense";
export const retrainStream = (denseSeed: number | "d") => `retrain-of-dense-seed-${denseSeed}`;

/** Dense units of one dense seed and the snapshot each temperature uses, hottest first. */
function temperatures(cfg: Fig2Config, trainCount: number, seed: number): Temperature[] {
  const t = cfg.temperature;
  const denseDefaults = { training: validateConfig("training", {}) };
  const curve = cfg.denseTestEveryEpoch ? { testEveryEpoch: true } : {};
  const seedTag = cfg.seeds.dense.length > 1 ? ` seed ${seed}` : "";
  const dense = (training: TrainingConfig, snapshots: number[], label: string) =>
    mkUnit("dense", { training: { ...training, seed, stream: DENSE_STREAM }, snapshots, ...curve }, [], label + seedTag, denseDefaults);
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

/** Every unit of the grid, in the order they are listed to the runner, and the grid they make. */
export function planFig2(
  cfg: Fig2Config,
  trainImages: number,
): { units: Unit<unknown>[]; grid: Fig2GridCell[]; temperatures: number[]; window: ReturnType<typeof errorWindow> } {
  const perSeed = cfg.seeds.dense.map((d) => ({ d, temps: temperatures(cfg, trainImages, d) }));
  const units: Unit<unknown>[] = [...new Map(perSeed.flatMap((p) => p.temps.map((t) => [t.dense.id, t.dense] as const))).values()];
  const retrainOptim = cfg.retrain;
  const window = errorWindow(retrainOptim.schedule, retrainOptim.lr, retrainOptim.epochs, cfg.metrics.errorWindow);
  const retrainDefaults = { training: validateConfig("training", {}) };
  const cellDefaults = { training: validateConfig("training", {}), metrics: validateConfig<Fig2Config>("fig2", {}).metrics };
  const values = perSeed[0]!.temps.map((t) => t.value);
  const grid: Fig2GridCell[] = [];
  values.forEach((value, rank) => {
    for (const density of cfg.densities) {
      const bySeed = perSeed.map(({ d, temps }): Fig2SeedCell => {
        const t = temps[rank]!;
        const tag = cfg.seeds.dense.length > 1 ? ` dense seed ${d}` : "";
        const retrains = cfg.seeds.retrain.map((seed) => ({
          seed,
          unit: mkUnit(
            "retrain",
            {
              training: { ...cfg.dense, seed, stream: retrainStream(d), optim: retrainOptim },
              source: { unit: t.dense.id, epoch: t.epoch },
              density,
              lastEpochs: window.count,
            },
            [t.dense.id],
            `retrain T=${value} d=${density}${tag} seed ${seed}`,
            retrainDefaults,
          ),
        }));
        const ids = retrains.map((r) => r.unit.id);
        const cell = mkUnit("cell", { training: cfg.dense, models: ids, metrics: cfg.metrics }, ids, `cell T=${value} d=${density}${tag}`, cellDefaults);
        units.push(...retrains.map((r) => r.unit), cell);
        return { denseSeed: d, dense: t.dense, retrains, cell };
      });
      grid.push({ value, rank, density, bySeed });
    }
  });
  return { units, grid, temperatures: values, window };
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
  const setPaths = overridePaths(overrides);
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

/**
 * dense.seed and dense.stream are set per dense unit by the grid (seeds.dense, and the
 * dense role's stream): a value the user gave would be silently replaced, so it is a
 * ConfigError that says what to set instead.
 */
export function checkSeedSettings(cfg: Fig2Config, overrides: string[] = []): void {
  const setPaths = overridePaths(overrides);
  const defaults = validateConfig<TrainingConfig>("training", {});
  const problems: string[] = [];
  if (setPaths.has("dense.seed") || cfg.dense.seed !== defaults.seed)
    problems.push(`dense.seed=${cfg.dense.seed} is set by the grid from seeds.dense (${cfg.seeds.dense.join(",")}); set seeds.dense=${cfg.dense.seed} instead`);
  if (cfg.dense.stream !== undefined)
    problems.push(`dense.stream="${cfg.dense.stream}" is set by the grid (dense runs and each dense seed's retraining draw their own streams); remove it`);
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
  if (cfg.seeds.retrain.length < paper.seeds.retrain.length) out.push(`${cfg.seeds.retrain.length} retrain seeds instead of ${paper.seeds.retrain.length}`);
  if (cfg.seeds.dense.length < paper.seeds.dense.length) out.push(`${cfg.seeds.dense.length} dense seed(s) instead of ${paper.seeds.dense.length}`);
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
  checkAxisSettings(cfg, loadPresetConfig<Fig2Config>("fig2", "fig2", opts.preset), opts.overrides);
  checkSeedSettings(cfg, opts.overrides);
  // Loads (or downloads) the data once, before any unit runs; fails early on a bad path.
  // A dry run touches nothing, so it sizes the grid from the dataset's nominal size.
  const data = opts.dryRun ? null : await loadData(cfg.dense, notice);
  const trainImages = trainImagesOf(cfg.dense, data);
  checkBatchSizes(cfg, trainImages);
  const { units, grid, temperatures: temps, window } = planFig2(cfg, trainImages);
  const out = await runUnits(units, runner, { dryRun: opts.dryRun, reportDir: opts.reportDir, outputDirs: [{ dir: opts.reportDir, flag: "--report-dir" }] });
  if (!out || !data) return true;

  const cells = fig2Cells(grid, (id) => out.records.get(id)?.metrics, cfg, Math.min(cfg.metrics.lmcImages, data.train.count));
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
    temperatures: temps,
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
    streams: { dense: DENSE_STREAM, retrain: retrainStream("d") },
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
        units: Object.fromEntries(
          grid.map((g) => [
            `${g.value}@${g.density}`,
            g.bySeed.map((s) => ({ denseSeed: s.denseSeed, dense: s.dense.id, retrains: s.retrains.map((r) => r.unit.id), cell: s.cell.id })),
          ]),
        ),
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

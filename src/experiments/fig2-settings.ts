/**
 * Figure 2's settings: what the grid sets itself and the user must not (errors that say
 * what to set instead), batch sizes against the data, and how a configuration departs
 * from the paper's protocol.
 */
import type { Fig2Config } from "../config/generated/fig2.ts";
import type { TrainingConfig } from "../config/generated/training.ts";
import { ConfigError, overridePaths, validateConfig } from "../config/load.ts";
import { loadPresetConfig } from "../config/presets.ts";
import { oneShotMethod, oneShotSettings } from "../prune/one-shot.ts";
import { checkBatchSize } from "../train/setup.ts";
import { dataDepartures, modelDepartures, startDepartures } from "./common.ts";

/**
 * The dense settings each temperature axis sets itself (fig2-plan.ts temperatures()), what to
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

/** The paper's pruning: every conv layer keeps the same fraction of its weights, those largest in |w|. */
export const PAPER_PRUNE_METHOD = "layerwise-magnitude";

/** prune.method and prune.settings as the grid runs them: the method registered, its settings checked and their defaults filled in. */
export function resolvePrune(cfg: Fig2Config): Required<NonNullable<Fig2Config["prune"]>> {
  const method = cfg.prune?.method ?? PAPER_PRUNE_METHOD;
  oneShotMethod(method, "prune.method");
  return { method, settings: oneShotSettings(method, cfg.prune?.settings, "prune.settings") };
}

/** Every batch size the grid trains with against the training images (the dataset's size, or its nominal size on a dry run). */
export function checkBatchSizes(cfg: Fig2Config, trainImages: number): void {
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
  out.push(...modelDepartures(cfg.dense.model, paper.dense.model, "the paper"));
  out.push(...startDepartures(cfg.dense));
  const prune = resolvePrune(cfg);
  if (prune.method !== PAPER_PRUNE_METHOD)
    out.push(`pruned by ${oneShotMethod(prune.method, "prune.method").label} (${prune.method}) instead of layer-wise L1 magnitude`);
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

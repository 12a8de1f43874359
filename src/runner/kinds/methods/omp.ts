import type { OmpUnitConfig } from "../../../config/generated/omp-unit.ts";
import type { OptimConfig } from "../../../config/generated/training.ts";
import { maskDensity } from "../../../prune/magnitude.ts";
import { oneShotMethod, oneShotSettings } from "../../../prune/one-shot.ts";
import { loadSnapshot } from "../dense.ts";
import type { UnitKind } from "../kind.ts";
import { oneShotMasks } from "../shared/one-shot-masks.ts";
import { retrainPruned, trainingImages } from "../shared/training-run.ts";
import { epochs, onePerTarget, type PruningMethod } from "./method.ts";

/**
 * One-shot pruning of the pretrained model, then fine-tuning: OMP (global magnitude), the
 * random baseline (method "random": uniform in every layer, drawn from the seed) and any
 * other registered one-shot method.
 */
export const ompKind: UnitKind<OmpUnitConfig> = {
  name: "omp",
  schema: "omp-unit",
  async run(cfg, ctx) {
    const dense = loadSnapshot(ctx, cfg.dense, cfg.finalEpoch);
    const method = cfg.method ?? "global-magnitude";
    return retrainPruned(cfg.training, ctx, {
      label: method === "global-magnitude" ? "OMP fine-tune" : `${method} pruning fine-tune`,
      start: dense,
      masksFor: (spec, data) =>
        oneShotMasks(
          { method, settings: cfg.methodSettings, setting: "method", density: 1 - cfg.sparsity, channelMultiple: 1, seed: cfg.training.seed },
          { t: cfg.training, ctx, spec, data, start: dense.state },
        ),
      extra: (r) => ({ sparsity: 1 - maskDensity(r.final.masks) }),
    });
  },
  training: (cfg) => cfg.training,
  estimateImages: (cfg) => trainingImages(cfg.training),
};

/** OMP's settings in an experiment config: the fine-tuning after pruning. */
export interface OmpSettings {
  omp: OptimConfig;
}

/** Settings of the one-shot methods a bench names in `methods` beyond the registered pruning methods, by method name. */
export interface OneShotBenchSettings {
  oneShot?: Record<string, Record<string, unknown>>;
}

/**
 * A method on the omp kind: the pretrained model pruned once by the one-shot method
 * `mask` (src/prune/one-shot.ts), then OMP's fine-tuning; one unit per target and seed.
 * The default mask (global magnitude, OMP) stays out of the unit config, and so do empty
 * method settings, so OMP's and random's unit ids predate the choice.
 */
function oneShotFinetune(
  name: string,
  label: string,
  mask: string,
  describe: (s: OmpSettings & OneShotBenchSettings) => string,
): PruningMethod<OmpSettings & OneShotBenchSettings> {
  return {
    name,
    label,
    kinds: mask === "global-magnitude" ? [ompKind as UnitKind<never>] : [],
    plan(p) {
      const settings = oneShotSettings(mask, p.settings.oneShot?.[mask], `oneShot.${mask}`);
      return onePerTarget(p.sparsities, (s) =>
        p.unit(
          "omp",
          {
            training: { ...p.training, optim: p.settings.omp },
            dense: p.dense.id,
            finalEpoch: p.finalEpoch,
            sparsity: s,
            ...(mask === "global-magnitude" ? {} : { method: mask }),
            ...(Object.keys(settings).length ? { methodSettings: settings } : {}),
          },
          [p.dense.id],
          `${label} ${s} seed ${p.training.seed}`,
        ),
      );
    },
    describe,
  };
}

/** OMP: one-shot global magnitude pruning, then fine-tuning. */
export const ompMethod = oneShotFinetune(
  "omp",
  "OMP",
  "global-magnitude",
  (s) => `one-shot global magnitude pruning of the pretrained model, ${epochs(s.omp.epochs, "fine-tuning ")}.`,
);

/** Random pruning: OMP's protocol with a uniformly random mask (same density in every layer), the sanity baseline. */
export const randomMethod = oneShotFinetune(
  "random",
  "Random",
  "random",
  (s) =>
    `a uniformly random mask of the pretrained model (each layer keeps the target density, drawn from the seed), then OMP's ${epochs(s.omp.epochs, "fine-tuning ")}.`,
);

/** Any registered one-shot method by its name (src/prune/one-shot.ts), run as OMP is: prune the pretrained model once, then OMP's fine-tuning. */
export function oneShotPruningMethod(name: string): PruningMethod<OmpSettings & OneShotBenchSettings> {
  const m = oneShotMethod(name, "methods");
  return oneShotFinetune(name, `One-shot ${m.label}`, name, (s) => {
    const settings = oneShotSettings(name, s.oneShot?.[name], `oneShot.${name}`);
    const given = Object.entries(settings).map(([k, v]) => `${k} ${JSON.stringify(v)}`);
    return `one-shot ${m.label} pruning of the pretrained model (\`${name}\`${given.length ? `, ${given.join(", ")}` : ""}; ${m.description.replace(/\.$/, "")}), then OMP's ${epochs(s.omp.epochs, "fine-tuning ")}.`;
  });
}

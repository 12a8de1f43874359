import type { OmpUnitConfig } from "../../../config/generated/omp-unit.ts";
import type { OptimConfig } from "../../../config/generated/training.ts";
import { maskDensity } from "../../../prune/magnitude.ts";
import { ONE_SHOT_METHODS } from "../../../prune/one-shot.ts";
import { randomMasks } from "../../../prune/random.ts";
import { prunableLayers } from "../../../models/spec.ts";
import { loadSnapshot } from "../dense.ts";
import type { UnitKind } from "../kind.ts";
import { retrainPruned, trainingImages } from "../shared/training-run.ts";
import { epochs, onePerTarget, type PruningMethod } from "./method.ts";

/**
 * One-shot pruning of the pretrained model, then fine-tuning: OMP (global magnitude) and
 * the random baseline (method "random": uniform in every layer, drawn from the seed).
 */
export const ompKind: UnitKind<OmpUnitConfig> = {
  name: "omp",
  schema: "omp-unit",
  async run(cfg, ctx) {
    const dense = loadSnapshot(ctx, cfg.dense, cfg.finalEpoch);
    const density = 1 - cfg.sparsity;
    return retrainPruned(cfg.training, ctx, {
      label: cfg.method === "random" ? "random pruning fine-tune" : "OMP fine-tune",
      start: dense,
      masksFor: (spec) =>
        cfg.method === "random"
          ? randomMasks(
              dense.state.params,
              prunableLayers(spec).map((l) => l.name),
              density,
              cfg.training.seed,
            )
          : ONE_SHOT_METHODS["global-magnitude"].masks(spec, dense.state.params, { density, channelMultiple: 1 }),
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

/**
 * A method on the omp kind: the pretrained model pruned once by `mask`, then OMP's
 * fine-tuning; one unit per target and seed. The default mask (global magnitude, OMP)
 * stays out of the unit config, so OMP's unit ids predate the choice.
 */
function oneShotFinetune(
  name: string,
  label: string,
  mask: NonNullable<OmpUnitConfig["method"]>,
  describe: (s: OmpSettings) => string,
): PruningMethod<OmpSettings> {
  return {
    name,
    label,
    kinds: mask === "global-magnitude" ? [ompKind as UnitKind<never>] : [],
    plan(p) {
      return onePerTarget(p.sparsities, (s) =>
        p.unit(
          "omp",
          {
            training: { ...p.training, optim: p.settings.omp },
            dense: p.dense.id,
            finalEpoch: p.finalEpoch,
            sparsity: s,
            ...(mask === "global-magnitude" ? {} : { method: mask }),
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

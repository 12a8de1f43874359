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

/** OMP: one unit per target and seed. */
export const ompMethod: PruningMethod<OmpSettings> = {
  name: "omp",
  label: "OMP",
  kinds: [ompKind as UnitKind<never>],
  plan(p) {
    return onePerTarget(p.sparsities, (s) =>
      p.unit(
        "omp",
        { training: { ...p.training, optim: p.settings.omp }, dense: p.dense.id, finalEpoch: p.finalEpoch, sparsity: s },
        [p.dense.id],
        `OMP ${s} seed ${p.training.seed}`,
      ),
    );
  },
  describe: (s) => `one-shot global magnitude pruning of the pretrained model, ${epochs(s.omp.epochs, "fine-tuning ")}.`,
};

/** Random pruning: OMP's protocol with a uniformly random mask (same density in every layer), the sanity baseline. */
export const randomMethod: PruningMethod<OmpSettings> = {
  name: "random",
  label: "Random",
  kinds: [],
  plan(p) {
    return onePerTarget(p.sparsities, (s) =>
      p.unit(
        "omp",
        { training: { ...p.training, optim: p.settings.omp }, dense: p.dense.id, finalEpoch: p.finalEpoch, sparsity: s, method: "random" },
        [p.dense.id],
        `Random ${s} seed ${p.training.seed}`,
      ),
    );
  },
  describe: (s) =>
    `a uniformly random mask of the pretrained model (each layer keeps the target density, drawn from the seed), then OMP's ${epochs(s.omp.epochs, "fine-tuning ")}.`,
};

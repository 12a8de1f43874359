import type { BipUnitConfig } from "../../../config/generated/bip-unit.ts";
import type { BipConfig } from "../../../config/generated/bip.ts";
import { createTrainer } from "../../../engine/registry.ts";
import { prunableLayers } from "../../../models/spec.ts";
import { bipScoredLayers } from "../../../prune/bip.ts";
import { maskDensity } from "../../../prune/magnitude.ts";
import { bipLoop, BIP_REVISION } from "../../../train/bip-loop.ts";
import { engineChoice, loadData, modelFor, trainerOptions } from "../../../train/setup.ts";
import { loadSnapshot } from "../dense.ts";
import type { UnitKind } from "../kind.ts";
import { dataMetrics, dataRngOf, dataStreamMetric, prunedStart, recordEpoch, saveTrainedWeights, trainingImages } from "../shared/training-run.ts";
import { onePerTarget, type PruningMethod } from "./method.ts";

/** BiP from the pretrained model to one sparsity (no retraining afterwards). */
export const bipKind: UnitKind<BipUnitConfig> = {
  name: "bip",
  schema: "bip-unit",
  async run(cfg, ctx) {
    const dense = loadSnapshot(ctx, cfg.dense, cfg.finalEpoch);
    const t = cfg.training;
    const data = await loadData(t, ctx.log);
    const spec = modelFor(t, data);
    const layers = bipScoredLayers(spec, cfg.bip);
    // The trainer masks exactly the scored layers (the fc too when it is scored); trainerFor masks the convs only.
    const trainer = await createTrainer(
      engineChoice(t, ctx.log),
      { ...trainerOptions(t, spec), threads: ctx.threads, maskedParams: layers },
      prunedStart(dense.state.params, dense.state.buffers, {}).state,
    );
    const out = await bipLoop({
      trainer,
      data,
      layers,
      density: 1 - cfg.sparsity,
      cfg: cfg.bip,
      augment: t.data,
      seed: t.seed,
      stream: t.stream,
      onStep: (d, n) => ctx.progress(d, n, `BiP ${(100 * cfg.sparsity).toFixed(1)}%`),
      onEpoch: (rec) => recordEpoch(ctx, rec, cfg.bip.epochs),
    });
    // Kept with the BN statistics re-estimated under the final mask: the model the headline accuracy is of.
    saveTrainedWeights(ctx, trainer, out.epochs.length, dataRngOf(t));
    await trainer.dispose();
    const convs = new Set(prunableLayers(spec).map((l) => l.name));
    return {
      status: out.status,
      engine: trainer.engine,
      provider: trainer.provider,
      metrics: {
        ...dataMetrics(data),
        dataStream: dataStreamMetric(dataRngOf(t)),
        epochs: out.epochs,
        // After BN re-estimation under the final mask (bnReestimateImages training images).
        finalTestAccuracy: out.epochs.at(-1)?.testAccuracy ?? null,
        testAccuracyRunningBn: out.runningBn?.accuracy ?? null,
        testLossRunningBn: out.runningBn?.loss ?? null,
        bnReestimateImages: out.bnImages ?? null,
        // Over the scored layers (convs, and the fc when scored): what the target constrains.
        sparsity: 1 - maskDensity(out.masks),
        // Over the convs only, the layers IMP and OMP prune.
        convSparsity: 1 - maskDensity(Object.fromEntries(Object.entries(out.masks).filter(([l]) => convs.has(l)))),
        scoredLayers: layers,
        variant: cfg.bip.variant,
        ...(out.status === "diverged" ? { divergedAt: out.divergedAt } : {}),
      },
    };
  },
  training: (cfg) => cfg.training,
  // Two gradient evaluations per iteration: two passes, about two training epochs' work per epoch (one-pass: about one).
  estimateImages: (cfg) =>
    (cfg.bip.iterations === "two-passes" ? 2 : 1) * trainingImages({ ...cfg.training, optim: { ...cfg.training.optim, epochs: cfg.bip.epochs } }),
};

/** BiP's settings in an experiment config (schemas/bip.schema.json). */
export interface BipSettings {
  bip: BipConfig;
}

/** BiP (unstructured, or filter-wise with `structure`), one unit per target and seed. */
function bipMethod(o: {
  name: string;
  label: string;
  /** How its units are named in progress lines. */
  unitLabel: string;
  /** Overrides the settings' `structure`. */
  structure?: BipConfig["structure"];
  describe: (b: BipConfig) => string;
}): PruningMethod<BipSettings> {
  const { name, label, structure } = o;
  return {
    name,
    label,
    kinds: [bipKind as UnitKind<never>],
    plan(p) {
      const bip = structure ? { ...p.settings.bip, structure } : p.settings.bip;
      return onePerTarget(p.sparsities, (s) =>
        p.unit(
          "bip",
          { training: p.training, dense: p.dense.id, finalEpoch: p.finalEpoch, sparsity: s, bip, revision: BIP_REVISION },
          [p.dense.id],
          `${o.unitLabel} ${s} seed ${p.training.seed}`,
        ),
      );
    },
    describe: (s) => o.describe(s.bip),
  };
}

const describeBip = (c: BipConfig) =>
  [
    `Scores from the pretrained magnitudes, global top-k of |scores| over the convs${c.includeFc ? " and the fc" : ""} with straight-through (d|s|/ds = sign(s)), ${c.epochs} epochs of alternating theta-step (alpha ${c.thetaLr}, cosine per iteration) and mask-step (beta ${c.maskLr}, score momentum ${c.maskMomentum}, score weight decay ${c.scoreWeightDecay}, x${c.maskLrDecay} at each of ${c.maskLrMilestones.map((m) => `${(100 * m).toFixed(0)}%`).join(", ")} of the iterations) on different mini-batches, theta regularised by ${c.thetaL2 === "gamma" ? `gamma/2 ||theta||^2 (gamma ${c.gamma})` : `weight decay ${c.weightDecay} (gamma ${c.gamma} only in the implicit gradient)`}, theta momentum ${c.momentum}; implicit-gradient variant: **${c.variant}**${c.variant === "code" ? ` (lr2 ${c.codeLr2})` : " (Algorithm A1: -(1/gamma) g_z * g_theta)"}.`,
    `No fine-tuning afterwards. BN statistics are re-estimated under the final mask on ${c.bnReestimateImages === "all" ? "all" : c.bnReestimateImages} training images (with the training augmentation, as training-mode BN sees them) before the headline accuracy; the accuracy with the running statistics the loop left is in its own column.`,
  ].join(" ");

export const unstructuredBipMethod = bipMethod({ name: "bip", label: "BiP", unitLabel: "BiP", describe: describeBip });

export const filterBipMethod = bipMethod({
  name: "bip-filter",
  label: "BiP-filter",
  unitLabel: "BiP filter-wise",
  structure: "filter",
  describe: () =>
    "BiP with one score per output filter and a per-layer top-k of filters (structured); its sparsity counts weights in removed filters. Shown for reference: the claims concern unstructured BiP.",
});

import type { ImpRoundUnitConfig } from "../../../config/generated/imp-round-unit.ts";
import type { OptimConfig } from "../../../config/generated/training.ts";
import { prunableLayers } from "../../../models/spec.ts";
import { impNextMasks, impRoundsFor } from "../../../prune/imp.ts";
import { maskDensity } from "../../../prune/magnitude.ts";
import { loadDepCheckpoint } from "../../dependency-error.ts";
import type { Unit } from "../../unit.ts";
import { loadSnapshot } from "../dense.ts";
import type { UnitKind } from "../kind.ts";
import { retrainPruned, trainingImages, TRAINED_WEIGHTS } from "../shared/training-run.ts";
import type { PruningMethod } from "./method.ts";

/**
 * One IMP round (BiP paper's baseline): prune `rate` of the remaining weights of the
 * previous round's trained model (round 1: the pretrained model) by global magnitude,
 * rewind the survivors to the dense run's early snapshot, retrain with the mask fixed.
 * Rounds are chained units, so IMP's cumulative time is the sum of its rounds.
 */
export const impRoundKind: UnitKind<ImpRoundUnitConfig> = {
  name: "imp-round",
  schema: "imp-round-unit",
  async run(cfg, ctx) {
    const prev = cfg.previous ? loadDepCheckpoint(ctx, cfg.previous, TRAINED_WEIGHTS) : loadSnapshot(ctx, cfg.dense, cfg.finalEpoch);
    const early = loadSnapshot(ctx, cfg.dense, cfg.rewindEpoch);
    return retrainPruned(cfg.training, ctx, {
      label: `IMP round ${cfg.round}`,
      start: early,
      masksFor: (spec) => {
        const layers = prunableLayers(spec).map((l) => l.name);
        const current = cfg.previous ? prev.masks : Object.fromEntries(layers.map((l) => [l, new Float32Array(prev.state.params[l]!.length).fill(1)]));
        return impNextMasks(prev.state.params, layers, current, cfg.rate);
      },
      extra: (r) => ({ sparsity: 1 - maskDensity(r.final.masks), round: cfg.round }),
    });
  },
  training: (cfg) => cfg.training,
  estimateImages: (cfg) => trainingImages(cfg.training),
};

/** IMP's settings in an experiment config: retraining per round and the fraction pruned per round. */
export interface ImpSettings {
  imp: OptimConfig;
  impRate: number;
  /** Survivors rewind to the dense run's weights after this many epochs. */
  rewindEpoch: number;
}

/** IMP: one chain of rounds per seed, as long as the sparsest target needs; a target's subnetwork is the round that reaches it. */
export const impMethod: PruningMethod<ImpSettings> = {
  name: "imp",
  label: "IMP",
  kinds: [impRoundKind as UnitKind<never>],
  plan(p) {
    const rounds = Math.max(...p.sparsities.map((s) => impRoundsFor(s, p.settings.impRate)));
    const chain: Unit<unknown>[] = [];
    for (let round = 1; round <= rounds; round++) {
      const prev = chain.at(-1);
      chain.push(
        p.unit(
          "imp-round",
          {
            training: { ...p.training, optim: p.settings.imp },
            dense: p.dense.id,
            ...(prev ? { previous: prev.id } : {}),
            round,
            rate: p.settings.impRate,
            rewindEpoch: p.settings.rewindEpoch,
            finalEpoch: p.finalEpoch,
          },
          prev ? [p.dense.id, prev.id] : [p.dense.id],
          `IMP seed ${p.training.seed} round ${round}`,
        ),
      );
    }
    return { units: chain, chain: (target) => chain.slice(0, impRoundsFor(target, p.settings.impRate)) };
  },
  describe: (s) =>
    `global magnitude pruning of ${(100 * s.impRate).toFixed(0)}% of the remaining conv weights per round, rewind to epoch ${s.rewindEpoch}, ${s.imp.epochs} retraining epochs per round; time to a sparsity = sum of its rounds.`,
};

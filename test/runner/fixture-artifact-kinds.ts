/**
 * Unit kinds for the tests of damaged outputs (fixture-kinds.ts lists them, so workers
 * load them through PRUNING_HARNESS_EXTRA_KINDS): a producer that writes a checkpoint into its unit
 * directory, as a dense unit writes its snapshots, and a consumer that reads it the way
 * retrain units read a dense snapshot (loadSnapshot).
 */
import { join } from "node:path";
import { loadSnapshot, snapshotFile } from "../../src/runner/kinds/dense.ts";
import type { UnitKind } from "../../src/runner/kinds/kind.ts";
import { saveCheckpoint } from "../../src/train/checkpoint.ts";

type ProducerConfig = { value: number };
type ConsumerConfig = { source: string; tag: number };

export const artifactKinds: UnitKind<never>[] = [
  {
    name: "snapshot-producer",
    async run(cfg: ProducerConfig, ctx) {
      const w = new Float32Array(64).map((_, i) => cfg.value + i);
      saveCheckpoint(join(ctx.outDir, snapshotFile(1)), {
        epoch: 1,
        state: { params: { w }, buffers: {}, momentum: {} },
        masks: {},
        rng: { seed: 0 },
        meta: { unit: ctx.unit.id },
      });
      return { status: "done", engine: "none", provider: "none", metrics: { value: cfg.value } };
    },
    estimateImages: () => 0,
  } as UnitKind<ProducerConfig> as UnitKind<never>,
  {
    name: "snapshot-consumer",
    async run(cfg: ConsumerConfig, ctx) {
      const s = loadSnapshot(ctx, cfg.source, 1);
      return { status: "done", engine: "none", provider: "none", metrics: { first: s.state.params.w![0]!, tag: cfg.tag } };
    },
    estimateImages: () => 0,
  } as UnitKind<ConsumerConfig> as UnitKind<never>,
];

#!/usr/bin/env bun
/**
 * bun run train — trains one model from a preset (plus --set overrides), with a
 * checkpoint after every epoch: run the same command again to resume where it stopped.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { TrainingConfig } from "../config/generated/training.ts";
import { loadPresetConfig } from "../config/presets.ts";
import { runContext } from "../report/context.ts";
import { loadData, modelFor, trainerFor } from "../train/setup.ts";
import { trainLoop } from "../train/train-loop.ts";
import { writeFileAtomic } from "../util/atomic-write.ts";
import { baseCommand, notice, runMain } from "./common.ts";
import { trainingProgress } from "./progress.ts";

const cmd = baseCommand("train", "Train one model (resumable) and print its test accuracy")
  .option("--runs-dir <dir>", "where checkpoints and results go", "runs")
  .option("--data-dir <dir>", "an existing cifar-10-batches-bin (or its parent) or Fashion-MNIST IDX directory")
  .option("--dry-run", "print the resolved config and exit");

await runMain(async () => {
  const opts = cmd.parse().opts<{ preset: string; set: string[]; runsDir: string; dataDir?: string; dryRun?: boolean }>();
  const overrides = [...opts.set, ...(opts.dataDir ? [`data.dataDir=${opts.dataDir}`] : [])];
  const cfg = loadPresetConfig<TrainingConfig>("train", "training", opts.preset, overrides);
  // The run directory is named by the resolved config, so the same command resumes the same run.
  const id = createHash("sha256").update(JSON.stringify(cfg)).digest("hex").slice(0, 12);
  const dir = join(opts.runsDir, `train-${id}`);
  if (opts.dryRun) {
    console.log(JSON.stringify({ runDir: dir, config: cfg }, null, 2));
    return;
  }
  const data = await loadData(cfg, notice);
  const spec = modelFor(cfg, data);
  const trainer = await trainerFor(cfg, spec, { log: notice });
  notice(`train: ${cfg.model.arch} w${cfg.model.width} on ${data.name} (${data.train.count} train / ${data.test.count} test), engine ${trainer.engine}/${trainer.provider}, run dir ${dir}`);
  const progress = trainingProgress("train", Math.ceil(data.train.count / cfg.optim.batchSize), cfg.optim.epochs);
  const out = await trainLoop({ trainer, data, optim: cfg.optim, augment: cfg.data, seed: cfg.seed, checkpointPath: join(dir, "checkpoint.ckpt"), onStep: progress.onStep, onEpoch: progress.onEpoch, meta: { config: cfg } });
  progress.stop();
  const result = { context: runContext(), config: cfg, dataset: { name: data.name, source: data.source }, engine: trainer.engine, provider: trainer.provider, ...out };
  writeFileAtomic(join(dir, "result.json"), JSON.stringify(result, null, 2) + "\n");
  const last = out.epochs.at(-1);
  if (out.status === "diverged") console.log(`diverged at epoch ${out.divergedAt.epoch}, step ${out.divergedAt.step} (loss ${out.divergedAt.loss})`);
  else console.log(`done: ${out.epochs.length} epochs, final test accuracy ${last?.testAccuracy !== undefined ? (100 * last.testAccuracy).toFixed(2) + "%" : "n/a"} (${join(dir, "result.json")})`);
  await trainer.dispose();
});

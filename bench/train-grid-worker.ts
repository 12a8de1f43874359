#!/usr/bin/env bun
/**
 * One run of bench:train's grid row (not a user command): trains with the torch engine
 * on one device, says "ready" after warm-up, waits for "go" on stdin so that every run
 * of the grid times the same window, then times one epoch through the path training
 * takes (epochSteps: the uint8 split resident on the device, batches built there) and
 * prints its timed window as one JSON line, so grid rows compare with the engine rows.
 */
import { Command } from "commander";
import { intArg, jsonArg } from "../src/cli/arg-parsers.ts";
import type { AugmentOptions } from "../src/data/batches.ts";
import { createTrainer } from "../src/engine/registry.ts";
import { freshState } from "../src/engine/state.ts";
import { benchDataset, EpochBench } from "../src/experiments/train-throughput.ts";
import { buildModel } from "../src/models/registry.ts";

const opts = new Command("train-grid-worker")
  .description("one run of bench:train's grid row (started by bench:train, not a user command)")
  .requiredOption("--case <json>", "{ arch, width, inputShape, batchSize }", jsonArg)
  .requiredOption("--device <d>", "torch device")
  .option("--python <p>", "interpreter", "auto")
  .option("--threads <n>", "CPU threads", intArg(1), 1)
  .option("--warmup <n>", "untimed steps", intArg(0), 5)
  .requiredOption("--steps <n>", "steps of the timed epoch", intArg(1))
  .requiredOption("--augment <json>", "{ cropPadding, flip }: the timed epochs' augmentation", jsonArg)
  .showHelpAfterError("(run with --help for usage)")
  // Usage errors exit 2 like every other command; --help exits 0.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
  .parse()
  .opts<{ case: unknown; device: string; python: string; threads: number; warmup: number; steps: number; augment: unknown }>();

const c = opts.case as { arch: string; width: number; inputShape: [number, number, number]; batchSize: number };
const spec = buildModel(c.arch, { width: c.width, inputShape: c.inputShape, numClasses: 10 });
const trainer = await createTrainer(
  { engine: "torch", device: opts.device, python: opts.python, log: (l) => process.stderr.write(`${l}\n`) },
  { spec, sgd: { momentum: 0.9, weightDecay: 1e-4 }, bn: { eps: 1e-5, momentum: 0.1 }, threads: opts.threads },
  freshState(spec, 1),
);
const bench = new EpochBench(trainer, benchDataset(spec.inputShape, opts.steps * c.batchSize, spec.numClasses), c.batchSize, opts.augment as AugmentOptions);
if (opts.warmup > 0) await bench.run(opts.warmup);
console.log("ready");
for await (const line of console) if (line.trim() === "go") break;
const now = () => performance.timeOrigin + performance.now();
const start = now();
const epoch = await bench.run();
const end = now();
await trainer.dispose();
console.log(JSON.stringify({ provider: trainer.provider, start, end, images: epoch.images }));
// The stdin reader would keep the process alive.
process.exit(0);

#!/usr/bin/env bun
/**
 * One run of bench:train's grid row (not a user command): trains with the torch engine
 * on one device, says "ready" after warm-up, waits for "go" on stdin so that every run
 * of the grid times the same window, then prints its timed window as one JSON line.
 */
import { Command } from "commander";
import { intArg, jsonArg } from "../src/cli/arg-parsers.ts";
import { createTrainer } from "../src/engine/registry.ts";
import { freshState } from "../src/engine/state.ts";
import { checkBatch } from "../src/engine/provider-check.ts";
import { buildModel } from "../src/models/registry.ts";

const opts = new Command("train-grid-worker")
  .description("one run of bench:train's grid row (started by bench:train, not a user command)")
  .requiredOption("--case <json>", "{ arch, width, inputShape, batchSize }", jsonArg)
  .requiredOption("--device <d>", "torch device")
  .option("--python <p>", "interpreter", "auto")
  .option("--threads <n>", "CPU threads", intArg(1), 1)
  .option("--warmup <n>", "untimed steps", intArg(0), 5)
  .requiredOption("--steps <n>", "timed steps", intArg(1))
  .showHelpAfterError("(run with --help for usage)")
  // Usage errors exit 2 like every other command; --help exits 0.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
  .parse()
  .opts<{ case: unknown; device: string; python: string; threads: number; warmup: number; steps: number }>();

const c = opts.case as { arch: string; width: number; inputShape: [number, number, number]; batchSize: number };
const spec = buildModel(c.arch, { width: c.width, inputShape: c.inputShape, numClasses: 10 });
const trainer = await createTrainer(
  { engine: "torch", device: opts.device, python: opts.python, log: (l) => process.stderr.write(`${l}\n`) },
  { spec, sgd: { momentum: 0.9, weightDecay: 1e-4 }, bn: { eps: 1e-5, momentum: 0.1 }, threads: opts.threads },
  freshState(spec, 1),
);
const batch = checkBatch(spec, c.batchSize, 1);
for (let i = 0; i < opts.warmup; i++) await trainer.trainStep(batch, 0.01);
console.log("ready");
for await (const line of console) if (line.trim() === "go") break;
const now = () => performance.timeOrigin + performance.now();
const start = now();
for (let i = 0; i < opts.steps; i++) await trainer.trainStep(batch, 0.01);
const end = now();
await trainer.dispose();
console.log(JSON.stringify({ provider: trainer.provider, start, end, images: opts.steps * c.batchSize }));
// The stdin reader would keep the process alive.
process.exit(0);

#!/usr/bin/env bun
/**
 * bun run check:gpu-parity — the torch engine on a GPU against the torch engine on the
 * CPU, at every precision, eager and with CUDA graphs: the provider check (one
 * gradients call and one step, tensor by tensor, at the precision's tolerance) and a
 * short run of steps built on the device from resident data (the path training takes,
 * graphs included), whose weights are compared at the end. Writes <report-dir>/gpu-parity.md
 * and .json. Part of scripts/gpu-check.sh; needs a CUDA device (--device cpu runs the
 * same comparisons CPU against CPU, a smoke test of the script itself).
 */
import { Command, Option } from "commander";
import { withVersion } from "../src/cli/common.ts";
import { join } from "node:path";
import type { TrainingConfig } from "../src/config/generated/training.ts";
import { validateConfig } from "../src/config/load.ts";
import { trainBatches } from "../src/data/batches.ts";
import { makeSynthetic } from "../src/data/synthetic.ts";
import { checkBatch, checkProvider, relativeError } from "../src/engine/provider-check.ts";
import { residentSplit } from "../src/engine/resident.ts";
import { freshState } from "../src/engine/state.ts";
import { probeTorch } from "../src/engine/torch/detect.ts";
import { TorchTrainer } from "../src/engine/torch/torch-trainer.ts";
import { cloneState, type Tensors } from "../src/engine/types.ts";
import { buildModel } from "../src/models/registry.ts";
import { prunableLayers } from "../src/models/spec.ts";
import { contextMarkdown, table } from "../src/report/markdown.ts";
import { writeFileAtomic } from "../src/util/atomic-write.ts";
import { runContext } from "../src/util/provenance.ts";
import { Rng } from "../src/util/rng.ts";

const opts = withVersion(new Command("check:gpu-parity"))
  .description("Torch engine on a GPU vs on the CPU at each precision, eager and with CUDA graphs; writes gpu-parity.md/.json")
  .addOption(new Option("--device <device>", "the device under test (cpu: a smoke test of this script)").default("cuda"))
  .option("--steps <n>", "training steps of the run compared at the end", "20")
  .option("--batch <n>", "batch size (full batches are the ones CUDA graphs capture)", "128")
  .option("--width <n>", "PreResNet-20 width", "16")
  .option("--report-dir <dir>", "where gpu-parity.md/.json go", "reports")
  .option("--python <path>", "the Python that imports torch", "auto")
  .showHelpAfterError("(run with --help for usage)")
  // Usage errors exit 2 like every other command.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
  .parse()
  .opts<{ device: string; steps: string; batch: string; width: string; reportDir: string; python: string }>();

const steps = Number(opts.steps),
  batch = Number(opts.batch);
const engineDefaults = validateConfig<TrainingConfig>("training", {}).engine;
const probe = await probeTorch(opts.python);
if ("missing" in probe) {
  console.error(`check:gpu-parity: ${probe.missing}`);
  process.exit(2);
}
if (opts.device !== "cpu" && !probe.found.cuda) {
  console.error(`check:gpu-parity: torch ${probe.found.torch} (${probe.found.python}) sees no CUDA device; run it on a GPU machine (scripts/gpu-check.sh)`);
  process.exit(2);
}

const spec = buildModel("preresnet20", { width: Number(opts.width), inputShape: [3, 32, 32], numClasses: 10 });
const data = makeSynthetic({ count: steps * batch, testCount: batch, channels: 3, size: 32, numClasses: 10, seed: 1 });
const augment = { cropPadding: 4, flip: true };
const sgd = { momentum: 0.9, weightDecay: 5e-4 },
  bn = { eps: 1e-5, momentum: 0.1 };
const start = freshState(spec, 1);
// 40% of every conv pruned: the masked paths (mask multiply, masked gradient) are compared too.
const masks: Tensors = Object.fromEntries(
  prunableLayers(spec).map((l) => {
    const rng = new Rng(2, "gpu-parity-mask", l.name);
    return [l.name, Float32Array.from({ length: start.params[l.name]!.length }, () => (rng.next() < 0.4 ? 0 : 1))];
  }),
);

type Settings = { precision: "fp32" | "tf32" | "bf16"; cudaGraphs: boolean };
const make = async (device: string, s: Settings) => {
  const t = await TorchTrainer.create(
    { spec, sgd, bn, python: probe.found.python, device, threads: 0, precision: s.precision, cudaGraphs: s.cudaGraphs, stepsPerRequest: steps },
    cloneState(start),
  );
  for (const [k, m] of Object.entries(masks)) t.masks[k] = m.slice();
  return t;
};

/** `steps` training steps from resident data, as training runs them; the weights after. */
async function run(t: TorchTrainer): Promise<{ params: Tensors; seconds: number }> {
  t.loadSplit("train", residentSplit(data, data.train, augment.cropPadding));
  const loader = trainBatches(data, { batchSize: batch, seed: 3, epoch: 0, augment });
  const t0 = performance.now();
  await t.trainSteps({ slot: "train", plans: Array.from({ length: loader.numBatches }, (_, i) => loader.plan(i)), lr: 0.05 });
  return { params: t.state.params, seconds: (performance.now() - t0) / 1000 };
}

const worstOf = (a: Tensors, b: Tensors) =>
  Object.entries(b).reduce(
    (w, [k, v]) => {
      const e = relativeError(a[k]!, v);
      return e > w.relError || Number.isNaN(e) ? { what: k, relError: e } : w;
    },
    { what: "", relError: 0 },
  );

const reference = await make("cpu", { precision: "fp32", cudaGraphs: false });
const cpuRun = await run(reference);
reference.state = cloneState(start);
const rows: Record<string, unknown>[] = [];
for (const precision of ["fp32", "tf32", "bf16"] as const) {
  for (const cudaGraphs of [false, true]) {
    const t = await make(opts.device, { precision, cudaGraphs });
    const tolerance = engineDefaults.providerCheck.tolerance[precision];
    const check = await checkProvider(t, reference, checkBatch(spec, engineDefaults.providerCheck.batchSize), tolerance);
    const r = await run(t);
    const drift = worstOf(r.params, cpuRun.params);
    rows.push({
      precision,
      cudaGraphs,
      effective: { precision: t.info.precision, cudaGraphs: t.info.cudaGraphs },
      device: t.provider,
      gpu: t.info.gpu,
      tolerance,
      check: { passed: check.passed, worst: check.worst },
      run: { steps, batch, seconds: r.seconds, imagesPerSecond: (steps * batch) / r.seconds, worstParamVsCpu: drift },
    });
    console.log(
      `${precision}${cudaGraphs ? " + graphs" : ""}: check ${check.passed ? "passed" : "FAILED"} (worst ${check.worst.what} ${check.worst.relError.toExponential(1)}, tolerance ${tolerance}); ${steps} steps: weights vs cpu ${drift.relError.toExponential(1)} (${drift.what}), ${((steps * batch) / r.seconds).toFixed(0)} img/s`,
    );
    await t.dispose();
  }
}
await reference.dispose();

const context = runContext();
const md = [
  "# Torch engine: GPU against CPU, by precision",
  "",
  contextMarkdown(context, { device: opts.device, torch: probe.found.torch, python: probe.found.python }),
  "",
  `PreResNet-20 w${opts.width}, batch ${batch}, 40% of every conv masked. **Check**: the provider check (one gradients call and one SGD step against the CPU in fp32, every tensor; tolerance per precision from engine.providerCheck.tolerance). **Run**: ${steps} steps on synthetic data resident on the device (crops and flips built there), then the largest relative difference of any weight tensor from the same ${steps} steps on the CPU; it grows with steps and is reported, not judged. The img/s include one-time costs (graph capture, cuDNN autotuning), so they are not throughput numbers: bench:train measures those.`,
  "",
  table(
    ["precision", "CUDA graphs", "effective", "check", "worst tensor (check)", "weights vs cpu after run", "img/s (incl. warm-up)"],
    rows.map((r) => {
      const x = r as {
        precision: string;
        cudaGraphs: boolean;
        effective: { precision: string; cudaGraphs: boolean };
        tolerance: number;
        check: { passed: boolean; worst: { what: string; relError: number } };
        run: { imagesPerSecond: number; worstParamVsCpu: { what: string; relError: number } };
      };
      return [
        x.precision,
        x.cudaGraphs ? "on" : "off",
        `${x.effective.precision}${x.effective.cudaGraphs ? ", graphs" : ""}`,
        `${x.check.passed ? "passed" : "**failed**"} (tol ${x.tolerance})`,
        `${x.check.worst.what}: ${x.check.worst.relError.toExponential(1)}`,
        `${x.run.worstParamVsCpu.relError.toExponential(1)} (${x.run.worstParamVsCpu.what})`,
        x.run.imagesPerSecond.toFixed(0),
      ];
    }),
  ),
].join("\n");
writeFileAtomic(join(opts.reportDir, "gpu-parity.json"), JSON.stringify({ context, device: opts.device, rows }, null, 2) + "\n");
writeFileAtomic(join(opts.reportDir, "gpu-parity.md"), md + "\n");
console.log(`wrote ${join(opts.reportDir, "gpu-parity.md")}`);

#!/usr/bin/env bun
/**
 * bun run doctor — what this machine offers the harness: runtimes, engines and
 * execution providers that load (and why the others do not, with the fix), datasets
 * found, the PyTorch engine (checked on a real step), and Slurm commands. Works offline.
 */
import { execa } from "execa";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Command } from "commander";
import * as ort from "onnxruntime-node";
import { defaultCacheDir } from "../data/cache.ts";
import { findCifar10 } from "../data/cifar10.ts";
import { EMBEDDED_SUBSET_DIR } from "../data/embedded.ts";
import { DEBIAN_FASHION_MNIST_DIR } from "../data/fashion-mnist.ts";
import { detectProviders } from "../engine/onnx/providers.ts";
import { checkBatch, providerChecks } from "../engine/provider-check.ts";
import { createTrainer, resolveAutoEngine } from "../engine/registry.ts";
import { probeTorch } from "../engine/torch/detect.ts";
import { freshState } from "../engine/state.ts";
import { buildModel } from "../models/registry.ts";
import { initTfjs } from "../engine/tfjs/backend.ts";
import { runContext } from "../util/provenance.ts";
import { runMain } from "./common.ts";

const ok = (s: string) => `  ok    ${s}`;
const no = (s: string) => `  --    ${s}`;

async function which(cmd: string): Promise<string | null> {
  const r = await execa("sh", ["-c", `command -v ${cmd}`], { reject: false });
  return r.exitCode === 0 ? String(r.stdout).trim() : null;
}

/**
 * The check every unit runs before training on a non-CPU provider (provider-check.ts),
 * on a small PreResNet-20: a provider that loads may still compute wrong gradients.
 */
async function checkGpuProviders(): Promise<string[]> {
  const gpus = detectProviders().filter((p) => p.name !== "cpu" && p.available);
  if (!gpus.length) return ["  (no GPU execution provider loads here, so none is checked against the cpu)"];
  const spec = buildModel("preresnet20", { width: 4, inputShape: [3, 16, 16], numClasses: 10 });
  const out: string[] = [];
  for (const p of gpus) {
    const before = providerChecks().length,
      notes: string[] = [];
    const options = { spec, sgd: { momentum: 0.9, weightDecay: 1e-4 }, bn: { eps: 1e-5, momentum: 0.1 } };
    const t = await createTrainer({ engine: "onnx", provider: p.name, log: (l) => notes.push(l) }, options, freshState(spec, 1));
    await t.dispose();
    const check = providerChecks().slice(before)[0];
    if (!check) out.push(no(`execution provider ${p.name} did not start: ${notes.join(" ").slice(0, 200)}`));
    else {
      const worst = `worst: ${check.worst.what}, relative error ${check.worst.relError.toExponential(1)}, tolerance ${check.tolerance}`;
      out.push(
        check.passed
          ? ok(`execution provider ${p.name} agrees with cpu on a training step (${worst})`)
          : no(`execution provider ${p.name} computes wrong results (${worst}): units train on cpu instead`),
      );
    }
  }
  return out;
}

/** The torch engine: which Python imports torch, what it sees, and a real training step on each device (checked against the CPU). */
async function torchLines(): Promise<string[]> {
  const probe = await probeTorch();
  const out: string[] = [];
  if ("missing" in probe) out.push(no(`torch engine unavailable: ${probe.missing}; bench:train skips its PyTorch rows`));
  else {
    const t = probe.found;
    out.push(ok(`${t.python}: torch ${t.torch}, ${t.cuda ? `${t.devices} CUDA device(s)` : "no CUDA device"}`));
    const spec = buildModel("preresnet20", { width: 4, inputShape: [3, 16, 16], numClasses: 10 });
    const options = { spec, sgd: { momentum: 0.9, weightDecay: 1e-4 }, bn: { eps: 1e-5, momentum: 0.1 }, threads: 1 };
    for (const device of t.cuda ? ["cpu", "cuda"] : ["cpu"]) {
      const before = providerChecks().length,
        notes: string[] = [];
      try {
        const tr = await createTrainer({ engine: "torch", device, log: (l) => notes.push(l) }, options, freshState(spec, 1));
        await tr.trainStep(checkBatch(spec, 4), 0.1);
        await tr.dispose();
        const check = providerChecks().slice(before)[0];
        const verdict = check
          ? `; ${check.passed ? "agrees with" : "DISAGREES with"} torch on the cpu (worst: ${check.worst.what}, relative error ${check.worst.relError.toExponential(1)})`
          : "";
        out.push((check && !check.passed ? no : ok)(`torch engine trains on ${tr.provider}${verdict}`));
      } catch (e) {
        out.push(no(`torch engine on ${device}: ${(e as Error).message.split("\n")[0]}`));
      }
    }
  }
  const auto = await resolveAutoEngine({ engine: "auto" });
  out.push(`  engine.name=auto (the default) picks ${auto.engine} here: ${auto.why}`);
  return out;
}

const cmd = new Command("doctor")
  .description("Print what this machine offers the harness (engines, execution providers, datasets, Slurm)")
  .option("--cache-dir <dir>", "dataset cache to inspect", defaultCacheDir())
  // Usage errors exit 2 like every other command; --help exits 0.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

await runMain(async () => {
  const opts = cmd.parse().opts<{ cacheDir: string }>();
  const ctx = runContext();
  const lines: string[] = [];
  lines.push("Machine");
  lines.push(`  ${ctx.machine.cpu}, ${ctx.machine.cores} cores, ${ctx.machine.memoryGiB} GiB, ${ctx.machine.os}`);
  lines.push(`  commit ${ctx.commit}`);
  lines.push("Runtimes");
  for (const [k, v] of Object.entries(ctx.runtime)) lines.push(`  ${k} ${v}`);

  lines.push("Training engine: ONNX Runtime (engine auto's pick without CUDA)");
  lines.push(
    `  onnxruntime-node backends: ${ort
      .listSupportedBackends()
      .map((b) => `${b.name}${b.bundled ? "" : " (not bundled)"}`)
      .join(", ")}`,
  );
  for (const p of detectProviders()) lines.push(p.available ? ok(`execution provider ${p.name}`) : no(`execution provider ${p.name}: ${p.reason}`));
  lines.push(...(await checkGpuProviders()));

  lines.push("Second engine and test oracle: TensorFlow.js");
  const tf = await initTfjs("auto");
  lines.push(tf.backend === "tensorflow" ? ok("native binding (tfjs-node / tfjs-node-gpu) loaded") : ok("pure-JS cpu backend (oracle; slow for training)"));
  for (const n of tf.notes)
    lines.push(
      no(
        `${n.split(":")[0]} not usable: ${n
          .slice(n.indexOf(":") + 1)
          .trim()
          .slice(0, 160)} (optional; needs libtensorflow downloaded at install, and CUDA 11.2 + cuDNN 8.1 for -gpu)`,
      ),
    );

  lines.push("Datasets");
  const cifar = findCifar10(opts.cacheDir);
  lines.push(
    cifar
      ? ok(`CIFAR-10 cached at ${cifar}`)
      : no(`CIFAR-10 not in ${opts.cacheDir} (downloaded on first use when online, or pass --set data.dataDir=/path/to/cifar-10-batches-bin)`),
  );
  lines.push(
    existsSync(join(DEBIAN_FASHION_MNIST_DIR, "train-images-idx3-ubyte.gz"))
      ? ok(`Fashion-MNIST (Debian) at ${DEBIAN_FASHION_MNIST_DIR}`)
      : no(`Fashion-MNIST (Debian) not installed (apt install dataset-fashion-mnist)`),
  );
  lines.push(
    existsSync(EMBEDDED_SUBSET_DIR)
      ? ok(`embedded Fashion-MNIST subset at ${EMBEDDED_SUBSET_DIR}`)
      : no(`embedded subset missing from ${EMBEDDED_SUBSET_DIR} (broken checkout?)`),
  );

  lines.push("Training engine: PyTorch (engine.name=torch; engine auto's pick on CUDA)");
  lines.push(...(await torchLines()));

  lines.push("Slurm");
  for (const c of ["sbatch", "squeue", "scontrol", "sacct"]) {
    const w = await which(c);
    lines.push(w ? ok(`${c} at ${w}`) : no(`${c} not found (only needed for --executor slurm)`));
  }
  console.log(lines.join("\n"));
});

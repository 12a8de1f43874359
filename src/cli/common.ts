import { Command, Option } from "commander";
import type { RunnerConfig } from "../config/generated/runner.ts";
import { ConfigError, settingSchema, topLevelSettings, validateConfig } from "../config/load.ts";
import { Interrupted } from "../runner/local-pool.ts";
import { readThroughputFile, slurmTimeSeconds } from "../runner/plan.ts";
import { SlurmPollError } from "../runner/slurm.ts";
import { DataError } from "../data/errors.ts";
import { DATASET_NAMES, DATASETS } from "../data/datasets.ts";
import { CheckpointError } from "../train/checkpoint.ts";
import { loadPresetConfig, PRESET_KEY, PRESET_NAMES, resolvePreset } from "../config/presets.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gitCommit } from "../util/provenance.ts";
import { nvidiaDriverPresent } from "../engine/torch/detect.ts";
import { ARCH_NAMES } from "../models/registry.ts";

export interface CommonOptions {
  preset: string;
  /** True when --preset was on the command line (not its default). */
  presetGiven?: boolean;
  reportDir: string;
  set: string[];
  config: string[];
  printConfig?: boolean;
  /** --dataset and --data-dir, on commands whose SettingsSpec names `data`. */
  dataset?: string;
  dataDir?: string;
  /** --model and --width, on commands whose SettingsSpec names `model`. */
  model?: string;
  width?: string;
}

/** Where a command's settings live: its presets, its schema, and one override that works on it (for the help). */
export interface SettingsSpec {
  /** presets/<command>.json */
  command: string;
  /** schemas/<schema>.schema.json */
  schema: string;
  /** A `path=value` override of this command, e.g. dense.optim.epochs=30. */
  example: string;
  /** What --report-dir means to a command that writes no report of its own. */
  reportDirHelp?: string;
  /** Where the command's dataset settings are ("data", "dense.data"): --dataset and --data-dir set them (addDataOptions). */
  data?: string;
  /** Where the command's model settings are ("dense.model"): --model and --width set them (addModelOptions). */
  model?: string;
}

const collect = (v: string, acc: string[]) => [...acc, v];

let version: string | undefined;

/** The harness's version and the commit it runs at (`--version`). */
export function harnessVersion(): string {
  if (version) return version;
  const pkg = JSON.parse(readFileSync(join(import.meta.dir, "../../package.json"), "utf8")) as { name: string; version: string };
  return (version = `${pkg.name} ${pkg.version} (commit ${gitCommit()}), bun ${Bun.version}`);
}

/** Adds --version (the harness version and commit; git runs only when it is asked for). */
export function withVersion(cmd: Command): Command {
  return cmd.option("--version", "print the harness version and commit, then exit").on("option:version", () => {
    console.log(harnessVersion());
    process.exit(0);
  });
}

/** The help's list of settings: every top-level setting of the command's schema, and how to see them all. */
function settingsHelp(s: SettingsSpec): string {
  const rows = topLevelSettings(s.schema);
  const w = Math.max(...rows.map((r) => r.name.length));
  return [
    "",
    `Settings (schemas/${s.schema}.schema.json; presets in presets/${s.command}.json). Set any of them, or any nested one, with`,
    `--set path=value (lists: a,b,c or JSON) or a --config file; --print-config shows them all with their values:`,
    ...rows.map((r) => `  ${r.name.padEnd(w)}  ${r.description}`),
    "",
    `Example: --set ${s.example}`,
  ].join("\n");
}

/** A command with the flags every entry point shares, its settings among them. */
export function baseCommand(name: string, description: string, settings: SettingsSpec, defaultPreset = "quick"): Command {
  const cmd: Command = withVersion(new Command(name).description(description));
  // A --config file that names its preset may only meet a --preset that was typed, not defaulted.
  cmd.on("option:preset", () => cmd.setOptionValue("presetGiven", true));
  return (
    cmd
      .addOption(
        new Option("--preset <name>", "preset from presets/ (smoke: seconds, for CI; quick: scaled-down default; paper: full protocol)")
          .choices(PRESET_NAMES)
          .default(defaultPreset),
      )
      .option("--report-dir <dir>", settings.reportDirHelp ?? "where the markdown/JSON report is written", "reports")
      .option("--config <file>", "JSON file of settings over the preset (repeatable: later files win; --set wins over files)", collect, [] as string[])
      .option("--set <path=value>", `override one setting, e.g. --set ${settings.example} (repeatable)`, collect, [] as string[])
      .option("--print-config", "print the resolved settings (preset, files, --set, every default) as JSON and exit")
      // Built when help is shown, not on every start.
      .addHelpText("after", () => settingsHelp(settings))
      .showHelpAfterError("(run with --help for usage)")
      .exitOverride((err) => {
        // Usage errors exit 2 before anything is written; --help and --version exit 0.
        process.exit(err.exitCode === 0 ? 0 : 2);
      })
  );
}

/** --dataset and --data-dir: shorthands for the `data` settings of the command's spec (settingsOf applies them). */
export function addDataOptions(cmd: Command, spec: SettingsSpec & { data: string }, dirHelp?: string): Command {
  const choices = settingSchema(spec.schema, [...spec.data.split("."), "dataset"])?.enum as string[] | undefined;
  return cmd
    .addOption(new Option("--dataset <name>", `which dataset; same as --set ${spec.data}.dataset=<name>`).choices(choices ?? []))
    .option(
      "--data-dir <dir>",
      dirHelp ??
        `dataset directory (cifar-10-batches-bin, cifar-100-binary, Tiny-ImageNet's zip or folder, an image folder with train/ and val/, Fashion-MNIST IDX files, or the four .npy files of --dataset npy); same as --set ${spec.data}.dataDir=<dir>`,
    );
}

/** --model and --width: shorthands for the `model` settings of the command's spec (settingsOf applies them). */
export function addModelOptions(cmd: Command, spec: SettingsSpec & { model: string }): Command {
  // Any depth of the CIFAR ResNet families is a name (resnet56b): the schema's pattern checks it, not a list of choices.
  return cmd
    .option("--model <arch>", `which architecture (${ARCH_NAMES}); same as --set ${spec.model}.arch=<arch>`)
    .option("--width <n>", `the model's base width (channels of its first stage); same as --set ${spec.model}.width=<n>`);
}

/** Datasets that read no directory: a dataDir beside them would be ignored. */
const DIRLESS_DATASETS = new Set<string>(DATASET_NAMES.filter((n) => !DATASETS[n].readsDir));

/**
 * The settings sources of a parsed command: its preset (the one its --config files name,
 * else --preset; opts.preset is set to it), its --config files and its overrides (the
 * --set ones, then `extra`, which flags such as --temperature turn into, then --dataset
 * and --data-dir). With --print-config, prints the resolved settings as JSON, with the
 * preset under "$preset" so the output is a --config file that reproduces them, and exits.
 */
export function settingsOf(opts: CommonOptions, spec: SettingsSpec, extra: string[] = []): { preset: string; overrides: string[]; configFiles: string[] } {
  const preset = resolvePreset(opts.preset, opts.presetGiven === true, opts.config);
  opts.preset = preset;
  const dataFlags = spec.data
    ? [...(opts.dataset ? [`${spec.data}.dataset=${opts.dataset}`] : []), ...(opts.dataDir ? [`${spec.data}.dataDir=${opts.dataDir}`] : [])]
    : [];
  const modelFlags = spec.model
    ? [...(opts.model ? [`${spec.model}.arch=${opts.model}`] : []), ...(opts.width ? [`${spec.model}.width=${opts.width}`] : [])]
    : [];
  const out = { preset, overrides: [...opts.set, ...extra, ...dataFlags, ...modelFlags], configFiles: opts.config };
  const cfg = loadPresetConfig<Record<string, unknown>>(spec.command, spec.schema, preset, out.overrides, out.configFiles);
  if (spec.data) checkDataDir(cfg, spec.data, preset, opts.dataDir !== undefined);
  if (opts.printConfig) {
    console.log(JSON.stringify({ [PRESET_KEY]: preset, ...cfg }, null, 2));
    process.exit(0);
  }
  return out;
}

/** A dataDir beside a dataset that reads none (synthetic, the embedded subset) is an error, not ignored. */
function checkDataDir(cfg: Record<string, unknown>, path: string, preset: string, fromFlag: boolean): void {
  const data = path.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], cfg) as
    { dataset?: string; dataDir?: string } | undefined;
  if (data?.dataDir === undefined || !DIRLESS_DATASETS.has(data.dataset ?? "")) return;
  const given = fromFlag ? "--data-dir is given" : `${path}.dataDir is set`;
  throw new ConfigError(
    `${given} but ${path}.dataset is ${data.dataset} (preset ${preset}), which reads no directory; add --dataset ${DATASET_NAMES.filter((n) => DATASETS[n].readsDir).join("|")}|auto ` +
      `(auto: whichever the directory holds), or drop ${fromFlag ? "--data-dir" : `${path}.dataDir`}`,
  );
}

/** Runs a command's main; bad settings exit 2 with the message, a Slurm controller that stopped answering 3, other failures 1. */
export async function runMain(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (e) {
    // Bad settings and bad input files: the message names the setting or file and the fix.
    if (e instanceof ConfigError || e instanceof DataError || e instanceof CheckpointError) {
      console.error(`error: ${e.message}`);
      process.exit(2);
    }
    // The Slurm controller stopped answering: the message says what was left running and how to cancel it.
    if (e instanceof SlurmPollError) {
      console.error(`error: ${e.message}`);
      process.exit(e.exitCode);
    }
    if (e instanceof Interrupted) {
      console.error(e.message);
      process.exit(130);
    }
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  }
}

export { notice } from "../util/notice.ts";

export interface RunnerFlags {
  runsDir: string;
  jobs?: string;
  threadsPerJob?: string;
  gpus?: string;
  jobsPerGpu?: string;
  pack?: string;
  executor: string;
  maxAttempts?: string;
  dryRun?: boolean;
  slurmPartition?: string;
  slurmCpus?: string;
  slurmGpus?: string;
  slurmMem?: string;
  slurmTime?: string;
  slurmPoll?: string;
  slurmPollRetries?: string;
  slurmExtra?: string[];
  throughputFile?: string;
}

/** The flags of every command that runs units through the runner. */
export function addRunnerOptions(cmd: Command): Command {
  return cmd
    .option("--runs-dir <dir>", "run store: finished units are reused, interrupted ones resume", "runs")
    .option("--jobs <n>", "units run at once on the local executor (default: one per core)")
    .option("--threads-per-job <n>", "engine threads per unit (default: cores / jobs)")
    .option("--gpus <list>", "place units on these CUDA devices, e.g. 0,1 or all: each worker sees one GPU (CUDA_VISIBLE_DEVICES)")
    .option("--jobs-per-gpu <n>", "workers sharing one GPU (local: with --gpus; Slurm: units per array task, sharing its --slurm-gpus)")
    .option(
      "--pack <k|auto>",
      "train up to K units that differ only in seed, masks and start weights as one pack per worker (1: off; auto: the measured best, see runner.pack)",
    )
    .addOption(new Option("--executor <name>", "where units run").choices(["local", "slurm"]).default("local"))
    .option("--max-attempts <n>", "attempts per unit before it counts as failed")
    .option("--dry-run", "print the plan (units, how many are complete, estimated compute) and exit without writing")
    .option("--slurm-partition <name>", "sbatch --partition")
    .option("--slurm-cpus <n>", "sbatch --cpus-per-task (also the engine threads)")
    .option("--slurm-gpus <n>", "sbatch --gpus-per-task")
    .option("--slurm-mem <size>", "sbatch --mem, e.g. 8G")
    .option("--slurm-time <hh:mm:ss>", "sbatch --time per task (also d-hh:mm:ss, minutes); checked against the longest unit's estimate")
    .option("--slurm-poll <seconds>", "how often squeue is polled")
    .option("--slurm-poll-retries <n>", "failed squeue polls in a row retried (with backoff) before giving up (default 5)")
    .option("--slurm-extra <arg>", "one more sbatch argument, verbatim, e.g. --slurm-extra=--account=abc (repeatable)", collect, [] as string[])
    .option(
      "--throughput-file <file>",
      "bench:train record the compute estimate reads (default: train-throughput.json in --report-dir if there, else the repo's reports/)",
    );
}

/**
 * "--gpus all" or a comma-separated list of GPU numbers. "all" is every GPU this job may
 * use: those of an inherited CUDA_VISIBLE_DEVICES (a scheduler's assignment), else every
 * GPU nvidia-smi lists. Numbers index into CUDA_VISIBLE_DEVICES when it is set (gpuEnv).
 */
export function gpuList(v: string): string[] {
  if (v.trim() !== "all")
    return v
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean);
  const inherited = process.env.CUDA_VISIBLE_DEVICES;
  if (inherited !== undefined) {
    const n = inherited.split(",").filter((d) => d.trim()).length;
    if (n === 0) throw new ConfigError("--gpus all: CUDA_VISIBLE_DEVICES is empty, so this process may use no GPU; leave --gpus out");
    return Array.from({ length: n }, (_, i) => String(i));
  }
  const r = Bun.spawnSync(["sh", "-c", "nvidia-smi -L 2>/dev/null"]);
  const n =
    r.exitCode === 0
      ? r.stdout
          .toString()
          .split("\n")
          .filter((l) => l.startsWith("GPU ")).length
      : 0;
  if (n === 0) throw new ConfigError("--gpus all: nvidia-smi lists no GPU here; name the devices (--gpus 0,1) or leave --gpus out");
  return Array.from({ length: n }, (_, i) => String(i));
}

/** A numeric flag's value, or a ConfigError that shows it as given (Number("abc") would reach the schema as null). */
export function numberFlag(flag: string, v: string | undefined, integer = true): number | undefined {
  if (v === undefined) return undefined;
  const ok = integer ? /^-?\d+$/.test(v.trim()) : v.trim() !== "" && Number.isFinite(Number(v));
  if (!ok) throw new ConfigError(`${flag}: expected ${integer ? "an integer" : "a number"}, given "${v}"`);
  return Number(v);
}

/** Flags -> validated RunnerConfig (a bad value exits 2 before anything runs). */
export function runnerConfig(f: RunnerFlags): RunnerConfig {
  if (!f.runsDir.trim()) throw new ConfigError(`--runs-dir: expected a directory, given "${f.runsDir}"`);
  const int = (flag: string, v: string | undefined) => numberFlag(flag, v);
  const raw = {
    runsDir: f.runsDir,
    executor: f.executor,
    ...(f.jobs !== undefined ? { jobs: int("--jobs", f.jobs) } : {}),
    ...(f.threadsPerJob !== undefined ? { threadsPerJob: int("--threads-per-job", f.threadsPerJob) } : {}),
    ...(f.maxAttempts !== undefined ? { maxAttempts: int("--max-attempts", f.maxAttempts) } : {}),
    ...(f.gpus !== undefined ? { gpus: gpuList(f.gpus) } : {}),
    ...(f.jobsPerGpu !== undefined ? { jobsPerGpu: int("--jobs-per-gpu", f.jobsPerGpu) } : {}),
    ...(f.pack !== undefined ? { pack: f.pack.trim() === "auto" ? "auto" : int("--pack", f.pack) } : {}),
    slurm: {
      ...(f.slurmPartition ? { partition: f.slurmPartition } : {}),
      ...(f.slurmCpus ? { cpusPerTask: int("--slurm-cpus", f.slurmCpus) } : {}),
      ...(f.slurmGpus ? { gpus: int("--slurm-gpus", f.slurmGpus) } : {}),
      ...(f.slurmMem ? { memory: f.slurmMem } : {}),
      ...(f.slurmTime ? { time: f.slurmTime } : {}),
      ...(f.slurmPoll ? { pollSeconds: numberFlag("--slurm-poll", f.slurmPoll, false) } : {}),
      ...(f.slurmPollRetries ? { pollRetries: int("--slurm-poll-retries", f.slurmPollRetries) } : {}),
      ...(f.slurmExtra?.length ? { extraArgs: f.slurmExtra } : {}),
    },
    ...(f.throughputFile !== undefined ? { throughputFile: f.throughputFile } : {}),
  };
  if (f.slurmTime && slurmTimeSeconds(f.slurmTime) === null)
    throw new ConfigError(`--slurm-time: expected minutes, mm:ss, hh:mm:ss, d-hh, d-hh:mm or d-hh:mm:ss, given "${f.slurmTime}"`);
  // A bad file is an error before anything runs (the planner reads it later).
  if (f.throughputFile !== undefined) readThroughputFile(f.throughputFile);
  const cfg = validateConfig<RunnerConfig>("runner", raw, "runner flags");
  // Asked for GPUs on a machine without any: say so now, not after planning (and never train on the CPU instead).
  if (cfg.executor === "local" && cfg.gpus.length && !nvidiaDriverPresent())
    throw new ConfigError(
      `--gpus ${cfg.gpus.join(",")}: no NVIDIA driver is loaded on this machine (no /proc/driver/nvidia/version); leave --gpus out to train on the CPU`,
    );
  return cfg;
}

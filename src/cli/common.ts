import { Command, Option } from "commander";
import type { RunnerConfig } from "../config/generated/runner.ts";
import { ConfigError, topLevelSettings, validateConfig } from "../config/load.ts";
import { Interrupted } from "../runner/local-pool.ts";
import { DataError } from "../data/errors.ts";
import { CheckpointError } from "../train/checkpoint.ts";
import { loadPresetConfig, PRESET_NAMES } from "../config/presets.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gitCommit } from "../util/provenance.ts";

export interface CommonOptions {
  preset: string;
  reportDir: string;
  set: string[];
  config: string[];
  printConfig?: boolean;
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
  return (
    withVersion(new Command(name).description(description))
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

/**
 * The settings sources of a parsed command: its --config files and its overrides (the
 * --set ones, then `extra`, which flags such as --data-dir turn into). With
 * --print-config, prints the resolved settings as JSON and exits.
 */
export function settingsOf(opts: CommonOptions, spec: SettingsSpec, extra: string[] = []): { overrides: string[]; configFiles: string[] } {
  const out = { overrides: [...opts.set, ...extra], configFiles: opts.config };
  if (opts.printConfig) {
    const cfg = loadPresetConfig(spec.command, spec.schema, opts.preset, out.overrides, out.configFiles);
    console.log(JSON.stringify(cfg, null, 2));
    process.exit(0);
  }
  return out;
}

/** Runs a command's main; bad settings exit 2 with the message, other failures exit 1. */
export async function runMain(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (e) {
    // Bad settings and bad input files: the message names the setting or file and the fix.
    if (e instanceof ConfigError || e instanceof DataError || e instanceof CheckpointError) {
      console.error(`error: ${e.message}`);
      process.exit(2);
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
  executor: string;
  maxAttempts?: string;
  dryRun?: boolean;
  slurmPartition?: string;
  slurmCpus?: string;
  slurmGpus?: string;
  slurmMem?: string;
  slurmTime?: string;
  slurmPoll?: string;
}

/** The flags of every command that runs units through the runner. */
export function addRunnerOptions(cmd: Command): Command {
  return cmd
    .option("--runs-dir <dir>", "run store: finished units are reused, interrupted ones resume", "runs")
    .option("--jobs <n>", "units run at once on the local executor (default: one per core)")
    .option("--threads-per-job <n>", "engine threads per unit (default: cores / jobs)")
    .option("--gpus <list>", "place units on these CUDA devices, e.g. 0,1 or all: each worker sees one GPU (CUDA_VISIBLE_DEVICES)")
    .option("--jobs-per-gpu <n>", "workers sharing one GPU (local: with --gpus; Slurm: units per array task, sharing its --slurm-gpus)")
    .addOption(new Option("--executor <name>", "where units run").choices(["local", "slurm"]).default("local"))
    .option("--max-attempts <n>", "attempts per unit before it counts as failed")
    .option("--dry-run", "print the plan (units, how many are complete, estimated compute) and exit without writing")
    .option("--slurm-partition <name>", "sbatch --partition")
    .option("--slurm-cpus <n>", "sbatch --cpus-per-task (also the engine threads)")
    .option("--slurm-gpus <n>", "sbatch --gpus-per-task")
    .option("--slurm-mem <size>", "sbatch --mem, e.g. 8G")
    .option("--slurm-time <hh:mm:ss>", "sbatch --time per task")
    .option("--slurm-poll <seconds>", "how often squeue is polled");
}

/** "--gpus all" (every GPU nvidia-smi lists) or a comma-separated list of CUDA device indices. */
export function gpuList(v: string): string[] {
  if (v.trim() !== "all")
    return v
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean);
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
    slurm: {
      ...(f.slurmPartition ? { partition: f.slurmPartition } : {}),
      ...(f.slurmCpus ? { cpusPerTask: int("--slurm-cpus", f.slurmCpus) } : {}),
      ...(f.slurmGpus ? { gpus: int("--slurm-gpus", f.slurmGpus) } : {}),
      ...(f.slurmMem ? { memory: f.slurmMem } : {}),
      ...(f.slurmTime ? { time: f.slurmTime } : {}),
      ...(f.slurmPoll ? { pollSeconds: numberFlag("--slurm-poll", f.slurmPoll, false) } : {}),
    },
  };
  return validateConfig<RunnerConfig>("runner", raw, "runner flags");
}

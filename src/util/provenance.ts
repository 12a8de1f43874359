import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism, cpus, totalmem, hostname, platform, arch, release } from "node:os";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/**
 * Where and with what a result was produced (date, commit, machine, runtime versions):
 * recorded by workers in every unit record and printed at the top of every report.
 */
export interface RunContext {
  date: string;
  commit: string;
  machine: { host: string; cpu: string; cores: number; memoryGiB: number; os: string };
  runtime: Record<string, string>;
}

function packageVersion(name: string): string {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return "not installed";
  }
}

/**
 * The checked-out commit, marked when tracked files other than the harness's own
 * outputs (reports/, models/) have uncommitted changes: regenerating the reports one
 * command after another must not mark every report after the first as uncommitted work.
 */
export function gitCommit(cwd = process.cwd()): string {
  try {
    const sha = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd, stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no", "--", ":/", ":(top,exclude)reports", ":(top,exclude)models"], {
      cwd,
      stdio: ["ignore", "pipe", "ignore"],
    })
      .toString()
      .trim();
    return dirty ? `${sha} (with uncommitted changes)` : sha;
  } catch {
    return "unknown (not a git checkout)";
  }
}

function cpuModel(): string {
  try {
    const m = /model name\s*:\s*(.+)/.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m?.[1]) return m[1].trim();
  } catch {}
  return cpus()[0]?.model ?? "unknown";
}

export function runContext(now = new Date()): RunContext {
  return {
    date: now.toISOString(),
    commit: gitCommit(),
    machine: {
      host: hostname(),
      cpu: cpuModel(),
      cores: availableParallelism(),
      memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      os: `${platform()} ${release()} ${arch()}`,
    },
    runtime: {
      bun: typeof Bun !== "undefined" ? Bun.version : "n/a",
      "onnxruntime-node": packageVersion("onnxruntime-node"),
      "@tensorflow/tfjs-core": packageVersion("@tensorflow/tfjs-core"),
    },
  };
}

/** The context as a markdown table, plus any run-specific rows (engine, EP, dataset, preset...). */

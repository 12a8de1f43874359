import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism, cpus, totalmem, hostname, platform, arch, release } from "node:os";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** Where and with what a result was produced; printed at the top of every report. */
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

function gitCommit(): string {
  try {
    const sha = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
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
export function contextMarkdown(c: RunContext, extra: Record<string, string | number> = {}): string {
  const rows: [string, string][] = [
    ["date", c.date],
    ["commit", c.commit],
    ["machine", `${c.machine.cpu}, ${c.machine.cores} cores, ${c.machine.memoryGiB} GiB (${c.machine.os})`],
    ["runtime", Object.entries(c.runtime).map(([k, v]) => `${k} ${v}`).join(", ")],
    ...Object.entries(extra).map(([k, v]) => [k, String(v)] as [string, string]),
  ];
  return ["| context | |", "|---|---|", ...rows.map(([k, v]) => `| ${k} | ${v.replace(/\|/g, "\\|")} |`)].join("\n");
}

/** A markdown table from a header and rows. */
export function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.map((c) => String(c).replace(/\|/g, "\\|")).join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/**
 * One line on the data a report's units trained on: which subsets (by data seed) and
 * whether the units' recorded training-set fingerprints agree, loudly when they do not.
 */
export function sharedDataLine(data: { subsetSeed: number; trainLimit?: number; testLimit?: number }, fingerprints: string[], who: string): string {
  const subset = data.trainLimit !== undefined || data.testLimit !== undefined ? `subsets drawn with data seed ${data.subsetSeed}, the same for every training seed` : "the full splits";
  if (fingerprints.length === 1) return `${subset}; ${who} recorded one training-set fingerprint (${fingerprints[0]!.slice(0, 12)}).`;
  if (fingerprints.length === 0) return `${subset}; no unit recorded a training-set fingerprint (units computed before fingerprints were recorded).`;
  return `${subset}; **WARNING: the units recorded ${fingerprints.length} different training-set fingerprints** (${fingerprints.map((x) => x.slice(0, 12)).join(", ")}): they did not all train on the same images.`;
}

/** The distinct training-set fingerprints a report's unit records hold (one when all shared their data). */
export function trainFingerprintsOf(records: Iterable<{ metrics: Record<string, unknown> }>): string[] {
  return [...new Set([...records].map((r) => r.metrics.trainFingerprint).filter((f): f is string => typeof f === "string"))];
}

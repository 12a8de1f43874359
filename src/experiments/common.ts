import { rmSync } from "node:fs";
import { basename, join } from "node:path";
import type { RunnerConfig } from "../config/generated/runner.ts";
import type { RunOutcome } from "../runner/run-units.ts";
import { nominalTrainCount, type DatasetChoice } from "../data/resolve.ts";
import { writeFileAtomic } from "../util/atomic-write.ts";
import { notice } from "../util/notice.ts";
import { archName } from "../models/registry.ts";
import type { TrainingConfig } from "../config/generated/training.ts";

/** What every experiment is run with: a preset, settings over it, the runner, where the report goes. */
export interface ExperimentOptions {
  preset: string;
  /** path=value settings over the preset. */
  overrides: string[];
  /** --config files, merged over the preset before the overrides. */
  configFiles?: string[];
  runner: RunnerConfig;
  reportDir: string;
  dryRun?: boolean;
}

/** The data part of a report's "scaled down from the paper" list: another dataset, fewer training images. */
export function dataDepartures(datasetName: string, trainLimit: number | undefined, paper: { dataset: DatasetChoice; trainLimit?: number }): string[] {
  const out: string[] = [];
  if (datasetName !== paper.dataset) out.push(`dataset ${datasetName} instead of ${paper.dataset === "cifar10" ? "CIFAR-10" : paper.dataset}`);
  if (trainLimit) out.push(`${trainLimit} training images instead of ${nominalTrainCount(paper.dataset, paper.trainLimit).toLocaleString("en-US")}`);
  return out;
}

/** The model part of that list: another architecture (at the depth it trains), another width. */
export function modelDepartures(m: TrainingConfig["model"], paper: TrainingConfig["model"], paperWhat: string): string[] {
  const name = archName(m),
    paperName = archName(paper);
  return [
    ...(name !== paperName ? [`${name} instead of ${paperWhat}'s ${paperName}`] : []),
    ...(m.width !== paper.width ? [`${name} width ${m.width} instead of ${paper.width}`] : []),
  ];
}

/** A dense run that starts from a weights file rather than the paper's seeded initialisation, in words. */
export function startDepartures(t: TrainingConfig): string[] {
  const sw = t.startWeights;
  return sw ? [`the dense models start from ${basename(sw.path)} (SHA-256 ${sw.sha256?.slice(0, 12) ?? "not pinned"}) instead of a seeded initialisation`] : [];
}

/** A unit that did not complete, as a report lists it. */
export interface UnitFailure {
  unit: string;
  error: string;
}

/** Where a partial report's copy of a file goes: beside it, ".partial" before the extension (fig2-cells.csv -> fig2-cells.partial.csv). */
export function partialName(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? `${name.slice(0, dot)}.partial${name.slice(dot)}` : `${name}.partial`;
}

/** The banner a partial report opens with: what it is, and every unit that did not complete with its error. */
export function partialBanner(complete: string, failed: UnitFailure[]): string {
  return [
    `> **PARTIAL REPORT: ${failed.length} unit(s) did not complete**, so cells and points that need them are empty. The report of the last complete run (\`${complete}\`, if there is one) is left as it was. Units that did not complete:`,
    ">",
    ...failed.map((f) => `> - ${f.unit}: ${f.error.replace(/\s+/g, " ").trim()}`),
    "",
    "",
  ].join("\n");
}

/**
 * Writes a report's files (name -> content) into `dir`. A run with failed or blocked units
 * never replaces the last complete report: its files go beside it as NAME.partial.EXT (the
 * markdown's links to its own files point at those), each markdown file opening with
 * `partialBanner`. A complete run writes the files under their own names and removes the
 * partial files an earlier incomplete run left. Returns the paths written.
 */
export function writeReportFiles(dir: string, files: Record<string, string>, failed: UnitFailure[]): { partial: boolean; paths: string[] } {
  const names = Object.keys(files);
  if (!failed.length) {
    for (const n of names) rmSync(join(dir, partialName(n)), { force: true });
    const paths = names.map((n) => join(dir, n));
    names.forEach((n, i) => writeFileAtomic(paths[i]!, files[n]!));
    return { partial: false, paths };
  }
  const paths = names.map((n) => join(dir, partialName(n)));
  names.forEach((n, i) => {
    let content = files[n]!;
    if (n.endsWith(".md")) {
      for (const other of names) content = content.split(`](${other})`).join(`](${partialName(other)})`);
      content = partialBanner(n, failed) + content;
    }
    writeFileAtomic(paths[i]!, content);
  });
  return { partial: true, paths };
}

/**
 * An experiment's last step: writes its report files (writeReportFiles; the markdown
 * file `markdown` last in `files`), prints the markdown and what was written, and on a
 * partial run says that the last complete report was left as it was. Returns whether
 * the report is complete (the command's exit status).
 */
export function publishReport(dir: string, files: Record<string, string>, markdown: string, failed: UnitFailure[]): boolean {
  const written = writeReportFiles(dir, files, failed);
  console.log(files[markdown]);
  console.log(
    `\nwrote ${written.paths.at(-1)}, ${written.paths
      .slice(0, -1)
      .map((p) => basename(p))
      .join(", ")}`,
  );
  if (written.partial) notice(`${failed.length} unit(s) did not complete: wrote a partial report; ${join(dir, markdown)} is left as it was`);
  return !written.partial;
}

/** A run's failed units and those blocked by them, as the reports list them. */
export function unitFailures(out: Pick<RunOutcome, "failed" | "blocked">): UnitFailure[] {
  return [
    ...out.failed.map((f) => ({ unit: f.label ?? f.id, error: f.error })),
    ...out.blocked.map((b) => ({ unit: b, error: "blocked by a failed dependency" })),
  ];
}

/** The command that reproduces a report: its script, preset, --config files and --set overrides, quoted for a POSIX shell where needed. */
export function commandLine(script: string, opts: Pick<ExperimentOptions, "preset" | "overrides" | "configFiles">): string {
  const q = (a: string) => (/^[\w.,=/:@+%-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return [
    "bun",
    "run",
    script,
    "--preset",
    opts.preset,
    ...(opts.configFiles ?? []).flatMap((f) => ["--config", f]),
    ...opts.overrides.flatMap((o) => ["--set", o]),
  ]
    .map(q)
    .join(" ");
}

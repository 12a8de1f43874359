/**
 * Mutation-testing results (Stryker's JSON report, mutation-testing-report-schema) as the
 * per-folder summary `bun run mutate` keeps in reports/mutation/, and all folders' summaries
 * as reports/mutation.md.
 */
import { table as markdownTable } from "./markdown.ts";

/** The statuses of mutation-testing-report-schema. */
export type MutantStatus = "Killed" | "Survived" | "NoCoverage" | "Timeout" | "CompileError" | "RuntimeError" | "Ignored" | "Pending";

export interface StrykerMutant {
  id: string;
  mutatorName: string;
  replacement?: string;
  status: MutantStatus;
  statusReason?: string;
  location: { start: { line: number; column: number }; end: { line: number; column: number } };
}

export interface StrykerReport {
  files: Record<string, { source: string; mutants: StrykerMutant[] }>;
  testFiles?: Record<string, unknown>;
}

export interface MutantCounts {
  killed: number;
  timeout: number;
  survived: number;
  noCoverage: number;
  /** Disabled in the source as equivalent (`// Stryker disable ...: equivalent: <why>`): not scored. */
  equivalent: number;
  /** Not mutated on purpose (a hot loop disabled in the source, or a mutator excluded for the folder): not scored. */
  notMutated: number;
  /** Mutants whose code does not run at all (compile or runtime errors): not scored. */
  errors: number;
}

export interface MutantLine {
  file: string;
  line: number;
  mutator: string;
  original: string;
  replacement: string;
  /** Why a mutant is equivalent, or why its line is not mutated (from the disable comment). */
  reason?: string;
}

export interface FolderSummary {
  folder: string;
  commit: string;
  date: string;
  seconds: number;
  testFiles: string[];
  /** Mutators not applied in this folder, and why. */
  excluded?: { mutators: string[]; why: string };
  counts: MutantCounts;
  /** (killed + timeout) / (killed + timeout + survived + no coverage); null with no scored mutant. */
  score: number | null;
  files: { file: string; counts: MutantCounts; score: number | null }[];
  survivors: MutantLine[];
  /** Equivalent mutants, each with why. */
  equivalent: MutantLine[];
  /** Lines disabled in the source for another reason than equivalence (a hot loop), with why; excluded mutators are only counted. */
  disabled: MutantLine[];
}

const EMPTY: MutantCounts = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, equivalent: 0, notMutated: 0, errors: 0 };

/** Marked equivalent in its disable comment ("...: equivalent: why"). */
const isEquivalent = (m: StrykerMutant) => m.status === "Ignored" && /^equivalent:/.test(m.statusReason ?? "");
/** Disabled in the source for another reason (Stryker gives an excluded mutator a reason of its own). */
const isDisabledInSource = (m: StrykerMutant) =>
  m.status === "Ignored" && !isEquivalent(m) && !/^Ignored because of excluded mutation/.test(m.statusReason ?? "");
const SNIPPET = 80;

function tally(mutants: StrykerMutant[]): MutantCounts {
  const c = { ...EMPTY };
  for (const m of mutants) {
    if (m.status === "Killed") c.killed++;
    else if (m.status === "Timeout") c.timeout++;
    else if (m.status === "Survived") c.survived++;
    else if (m.status === "NoCoverage") c.noCoverage++;
    else if (isEquivalent(m)) c.equivalent++;
    else if (m.status === "Ignored") c.notMutated++;
    else c.errors++;
  }
  return c;
}

export function mutationScore(c: MutantCounts): number | null {
  const detected = c.killed + c.timeout,
    scored = detected + c.survived + c.noCoverage;
  return scored ? detected / scored : null;
}

/** The source text a mutant replaces, on one line and cut short. */
function originalText(source: string, m: StrykerMutant): string {
  const lines = source.split("\n");
  const { start, end } = m.location;
  const text =
    start.line === end.line
      ? lines[start.line - 1]!.slice(start.column - 1, end.column - 1)
      : [lines[start.line - 1]!.slice(start.column - 1), ...lines.slice(start.line, end.line - 1), lines[end.line - 1]!.slice(0, end.column - 1)].join(" ");
  return oneLine(text);
}

const oneLine = (s: string) => {
  const t = s.replace(/\s+/g, " ").trim();
  return t.length > SNIPPET ? `${t.slice(0, SNIPPET - 1)}…` : t;
};

export function summarize(
  report: StrykerReport,
  meta: Omit<FolderSummary, "counts" | "score" | "files" | "survivors" | "equivalent" | "disabled">,
): FolderSummary {
  const entries = Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b));
  const files = entries.map(([file, f]) => {
    const counts = tally(f.mutants);
    return { file, counts, score: mutationScore(counts) };
  });
  const counts = files.reduce<MutantCounts>(
    (acc, f) => Object.fromEntries(Object.entries(acc).map(([k, v]) => [k, v + f.counts[k as keyof MutantCounts]])) as unknown as MutantCounts,
    { ...EMPTY },
  );
  const lines = (pick: (m: StrykerMutant) => boolean) =>
    entries.flatMap(([file, f]) =>
      f.mutants
        .filter(pick)
        .sort((a, b) => a.location.start.line - b.location.start.line || a.location.start.column - b.location.start.column)
        .map((m): MutantLine => ({
          file,
          line: m.location.start.line,
          mutator: m.mutatorName,
          original: originalText(f.source, m),
          replacement: oneLine(m.replacement ?? ""),
          ...(m.status === "Ignored" && m.statusReason ? { reason: m.statusReason.replace(/^equivalent:\s*/, "") } : {}),
        })),
    );
  return {
    ...meta,
    counts,
    score: mutationScore(counts),
    files,
    survivors: lines((m) => m.status === "Survived" || m.status === "NoCoverage"),
    equivalent: lines(isEquivalent),
    disabled: lines(isDisabledInSource),
  };
}

const pct = (x: number | null) => (x === null ? "n/a" : `${(100 * x).toFixed(1)}%`);
const code = (s: string) => `\`${s.replace(/`/g, "'").replace(/\|/g, "\\|")}\``;

/** reports/mutation.md from every folder's summary, judged against the goal score. */
export function renderMutation(summaries: FolderSummary[], goal: number, goalFolders: string[]): string {
  const rows = summaries.map((s) => [
    `\`${s.folder}\``,
    String(s.counts.killed + s.counts.timeout),
    String(s.counts.survived),
    String(s.counts.noCoverage),
    String(s.counts.equivalent),
    String(s.counts.notMutated),
    `**${pct(s.score)}**`,
    goalFolders.includes(s.folder) ? (s.score !== null && s.score >= goal ? "met" : "**not met**") : "no goal",
    s.commit,
    `${Math.round(s.seconds / 60)} min`,
  ]);
  const missing = goalFolders.filter((f) => !summaries.some((s) => s.folder === f));
  const md = [
    "# Mutation testing",
    "",
    'Stryker (`@stryker-mutator/core`) changes the code one small edit at a time (a `<` for a `<=`, a deleted statement, a constant) and runs the tests that reach the edit (`scripts/mutation/bun-test-runner.ts`: each test file in its own `bun test`, chosen by the coverage of a first run). A mutant the tests fail on is killed; one they pass with survived: a behaviour no test checks. Generated by `bun run mutate [folder]` (not in CI: it takes tens of minutes per folder); see the README\'s "Mutation testing".',
    "",
    `Score = (killed + timed out) / (killed + timed out + survived + not covered). Goal: at least ${pct(goal)} in ${goalFolders.map((f) => `\`${f}\``).join(", ")}. Not scored: equivalent mutants (they cannot change behaviour), each marked where it is with \`// Stryker disable next-line <mutator>: equivalent: <why>\` and listed below with that reason; and code not mutated on purpose (a hot loop, marked and listed the same way; a mutator a folder leaves out, named in its section).`,
    "",
    markdownTable(["folder", "killed", "survived", "not covered", "equivalent", "not mutated", "score", "goal", "commit", "time"], rows),
    "",
    ...(missing.length ? [`Not yet measured: ${missing.map((f) => `\`${f}\``).join(", ")}.`, ""] : []),
  ];
  for (const s of summaries) {
    md.push(`## \`${s.folder}\``, "");
    md.push(
      `Run at ${s.commit} on ${s.date.slice(0, 10)} in ${Math.round(s.seconds / 60)} min; judged by ${s.testFiles.length} test files.${s.excluded ? ` Not mutated here: ${s.excluded.mutators.join(", ")} (${s.excluded.why}).` : ""}`,
      "",
    );
    md.push(
      markdownTable(
        ["file", "killed", "survived", "not covered", "equivalent", "not mutated", "score"],
        s.files.map((f) => [
          `\`${f.file}\``,
          String(f.counts.killed + f.counts.timeout),
          String(f.counts.survived),
          String(f.counts.noCoverage),
          String(f.counts.equivalent),
          String(f.counts.notMutated),
          pct(f.score),
        ]),
      ),
      "",
    );
    if (s.survivors.length) {
      md.push(`<details><summary>${s.survivors.length} surviving or uncovered mutants</summary>`, "");
      md.push(
        markdownTable(
          ["where", "mutator", "original", "mutant"],
          s.survivors.map((m) => [`${m.file}:${m.line}`, m.mutator, code(m.original), code(m.replacement)]),
        ),
      );
      md.push("", "</details>", "");
    }
    for (const [list, title, why] of [
      [s.equivalent, "Equivalent mutants", "why it is equivalent"],
      [s.disabled, "Not mutated on purpose", "why"],
    ] as const) {
      if (!list.length) continue;
      md.push(`${title} (${list.length}):`, "");
      md.push(
        markdownTable(
          ["where", "mutator", "original", why],
          list.map((m) => [`${m.file}:${m.line}`, m.mutator, code(m.original), m.reason ?? ""]),
        ),
      );
      md.push("");
    }
  }
  return md.join("\n");
}

/**
 * A Stryker test runner for `bun test` (Stryker ships runners for Jest, Mocha,
 * Vitest and others, none for Bun; its generic command runner reruns the whole
 * suite for every mutant and reports no coverage).
 *
 * Granularity is the test file: the dry run runs each file in its own process
 * and records which mutants that file executed, so a mutant is then tested only
 * by the files that reach it (fastest first, stopping at the first that fails),
 * and a mutant no file reaches is reported as not covered without a run.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { commonTokens, declareClassPlugin, PluginKind, tokens } from "@stryker-mutator/api/plugin";
import type { StrykerOptions, MutantCoverage } from "@stryker-mutator/api/core";
import { INSTRUMENTER_CONSTANTS } from "@stryker-mutator/api/core";
import {
  DryRunStatus,
  MutantRunStatus,
  TestStatus,
  type DryRunOptions,
  type DryRunResult,
  type MutantRunOptions,
  type MutantRunResult,
  type TestResult,
  type TestRunner,
  type TestRunnerCapabilities,
} from "@stryker-mutator/api/test-runner";

export type BunRunnerOptions = {
  /** Globs (relative to the project root) of the test files that judge the mutants. */
  testFiles: string[];
  /** Files the globs match that are left out, each too slow to run once per mutant. */
  excludeTestFiles?: string[];
};

type FileRun = { ok: boolean; output: string; ms: number; hitLimit: boolean };

const PRELOAD = path.resolve(import.meta.dir, "coverage-preload.ts");
const OUTPUT_KEPT = 4000;
// The plugin is TypeScript, so Stryker runs under Bun and its own executable runs the tests.
const BUN = process.execPath;

export class BunTestRunner implements TestRunner {
  static inject = tokens(commonTokens.options);
  private readonly testFiles: string[];
  private readonly cwd = process.cwd();
  private child: ChildProcess | undefined;
  /** Dry-run time per file, so a mutant's files run fastest first. */
  private readonly fileMs = new Map<string, number>();

  constructor(options: StrykerOptions) {
    const own = (options as StrykerOptions & { bunRunner?: BunRunnerOptions }).bunRunner;
    if (!own?.testFiles?.length) {
      throw new Error("stryker config: bunRunner.testFiles is empty; list the test files that judge the mutants");
    }
    const excluded = new Set(own.excludeTestFiles ?? []);
    const matched = own.testFiles.flatMap((glob) => [...new Bun.Glob(glob).scanSync({ cwd: this.cwd })]);
    this.testFiles = [...new Set(matched)].filter((f) => !excluded.has(f)).sort();
    if (this.testFiles.length === 0) {
      throw new Error(`stryker config: bunRunner.testFiles (${own.testFiles.join(", ")}) matches no test file`);
    }
  }

  capabilities(): TestRunnerCapabilities {
    // Every run is a fresh process, so module-level mutants take effect too.
    return { reloadEnvironment: true };
  }

  async dryRun(_options: DryRunOptions): Promise<DryRunResult> {
    const dir = mkdtempSync(path.join(tmpdir(), "mutation-coverage-"));
    try {
      const tests: TestResult[] = [];
      const coverage: MutantCoverage = { static: {}, perTest: {} };
      for (const file of this.testFiles) {
        const coverageFile = path.join(dir, `${tests.length}.json`);
        const run = await this.runFile(file, { MUTATION_TEST_ID: file, MUTATION_COVERAGE_FILE: coverageFile });
        if (!run.ok) {
          return {
            status: DryRunStatus.Error,
            errorMessage: `${file} fails without any mutant:\n${run.output}`,
          };
        }
        this.fileMs.set(file, run.ms);
        tests.push({
          id: file,
          name: file,
          fileName: path.resolve(this.cwd, file),
          status: TestStatus.Success,
          timeSpentMs: run.ms,
        });
        const seen = JSON.parse(readFileSync(coverageFile, "utf8")) as MutantCoverage;
        coverage.perTest[file] = { ...seen.static, ...(seen.perTest[file] ?? {}) };
      }
      return { status: DryRunStatus.Complete, tests, mutantCoverage: coverage };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  async mutantRun(options: MutantRunOptions): Promise<MutantRunResult> {
    const files = (options.testFilter ?? this.testFiles).slice().sort((a, b) => (this.fileMs.get(a) ?? 0) - (this.fileMs.get(b) ?? 0));
    const env: Record<string, string> = {
      [INSTRUMENTER_CONSTANTS.ACTIVE_MUTANT_ENV_VARIABLE]: options.activeMutant.id,
    };
    if (options.hitLimit !== undefined) env.MUTATION_HIT_LIMIT = String(options.hitLimit);
    let ms = 0;
    for (const [i, file] of files.entries()) {
      const run = await this.runFile(file, env);
      ms += run.ms;
      if (run.hitLimit) return { status: MutantRunStatus.Timeout, reason: "hit limit reached", duration: ms };
      if (!run.ok) {
        return {
          status: MutantRunStatus.Killed,
          killedBy: [file],
          failureMessage: run.output,
          nrOfTests: i + 1,
          duration: ms,
        };
      }
    }
    return { status: MutantRunStatus.Survived, nrOfTests: files.length, duration: ms };
  }

  async dispose(): Promise<void> {
    // Stryker disposes a runner whose mutant timed out; the test process must not outlive it.
    this.child?.kill("SIGKILL");
    this.child = undefined;
  }

  private runFile(file: string, env: Record<string, string>): Promise<FileRun> {
    const started = performance.now();
    return new Promise((resolve) => {
      const child = spawn(BUN, ["test", "--bail", "--preload", PRELOAD, path.resolve(this.cwd, file)], {
        cwd: this.cwd,
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      this.child = child;
      let output = "";
      const keep = (chunk: Buffer) => {
        output = (output + chunk.toString()).slice(-OUTPUT_KEPT);
      };
      child.stdout?.on("data", keep);
      child.stderr?.on("data", keep);
      child.on("close", (code) => {
        if (this.child === child) this.child = undefined;
        resolve({
          ok: code === 0,
          output,
          ms: performance.now() - started,
          hitLimit: output.includes("Stryker: Hit count limit reached"),
        });
      });
    });
  }
}

export const strykerPlugins = [declareClassPlugin(PluginKind.TestRunner, "bun", BunTestRunner)];

/** Lets Stryker validate `bunRunner` in the config instead of warning that it is unknown. */
export const strykerValidationSchema = {
  properties: {
    bunRunner: {
      type: "object",
      additionalProperties: false,
      required: ["testFiles"],
      properties: {
        testFiles: { type: "array", items: { type: "string" }, minItems: 1 },
        excludeTestFiles: { type: "array", items: { type: "string" } },
      },
    },
  },
};

/**
 * Preloaded into every `bun test` process the mutation runner starts.
 *
 * Stryker's instrumented code records which mutants ran under
 * `globalThis.__stryker__.currentTestId`; the runner gives each test file its
 * own process, so the test id is the file and everything the file loads counts
 * as covered by it (module-level code included, which Stryker would otherwise
 * call "static" and rerun every test for).
 */
import { afterAll, setDefaultTimeout } from "bun:test";
import { writeFileSync } from "node:fs";

type StrykerNamespace = {
  currentTestId?: string;
  hitCount?: number;
  hitLimit?: number;
  mutantCoverage?: { static: Record<string, number>; perTest: Record<string, Record<string, number>> };
};

const g = globalThis as unknown as { __stryker__?: StrykerNamespace };
const ns: StrykerNamespace = (g.__stryker__ ??= {});

// Instrumented loops run tens of times slower than the originals; Stryker's own
// timeout (the file's dry-run time times timeoutFactor) ends a hung mutant instead.
setDefaultTimeout(Number(process.env.MUTATION_TEST_TIMEOUT_MS ?? 600_000));

const testId = process.env.MUTATION_TEST_ID;
if (testId) ns.currentTestId = testId;

// An infinite loop a mutant creates ends as a timeout rather than a hung worker.
const hitLimit = Number(process.env.MUTATION_HIT_LIMIT);
if (Number.isFinite(hitLimit) && hitLimit > 0) {
  ns.hitCount = 0;
  ns.hitLimit = hitLimit;
}

const coverageFile = process.env.MUTATION_COVERAGE_FILE;
if (coverageFile) {
  // Bun's test runner fires no process "exit" event; a preloaded afterAll runs once, after every file.
  afterAll(() => {
    writeFileSync(coverageFile, JSON.stringify(ns.mutantCoverage ?? { static: {}, perTest: {} }));
  });
}

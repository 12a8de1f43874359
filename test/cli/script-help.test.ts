import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/** Every script package.json runs that is not an entry point of src/cli: `--help` prints usage and exits 0, a bad flag exits 2. */
const REPO = join(import.meta.dir, "../..");
const GENERATED = join(REPO, "src/config/generated");

// Flags a script requires, so that the unknown flag is what it reports.
const scripts: [string, string[]][] = [
  ["bench/profile-step.ts", []],
  ["bench/conv-grad-variants.ts", []],
  ["bench/strided-input-grad-variants.ts", []],
  ["scripts/gen-types.ts", []],
  ["scripts/make-embedded-subset.ts", []],
  ["bench/gpu-parity.ts", []],
  ["scripts/setup-cuda-ep.ts", []],
  ["bench/train-grid-worker.ts", ["--case", "{}", "--device", "cpu", "--steps", "1", "--augment", "{}"]],
];

function spawn(script: string, args: string[]) {
  const r = Bun.spawnSync([process.execPath, join(REPO, script), ...args], { cwd: REPO, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

/** Each generated file's modification time and contents: gen-types must leave them as they are. */
function generated(): Map<string, string> {
  return new Map(readdirSync(GENERATED).map((f) => [f, `${statSync(join(GENERATED, f)).mtimeMs}\n${readFileSync(join(GENERATED, f), "utf8")}`]));
}

for (const [script, required] of scripts) {
  test(`${script} --help prints usage and exits 0`, () => {
    const before = script === "scripts/gen-types.ts" ? generated() : undefined;
    const r = spawn(script, ["--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("Usage:");
    expect(r.out).toContain("--help");
    expect(r.err).toBe("");
    if (before) expect(generated()).toEqual(before);
  }, 30_000);

  test(`${script} with an unknown flag exits 2 with a one-line error`, () => {
    const before = script === "scripts/gen-types.ts" ? generated() : undefined;
    const r = spawn(script, [...required, "--no-such-flag"]);
    expect(r.code).toBe(2);
    // One line and a hint, not the whole help.
    expect(r.err.trim().split("\n")).toEqual(["error: unknown option '--no-such-flag'", "(run with --help for usage)"]);
    expect(r.out).toBe("");
    if (before) expect(generated()).toEqual(before);
  }, 30_000);
}

test("every script package.json runs answers --version with the harness version and commit, exit 0, nothing else done", () => {
  const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { scripts: Record<string, string> };
  const entries = Object.values(pkg.scripts)
    .map((cmd) => /^bun ((?:bench|scripts|src\/cli|repro)\/[\w-]+\.ts)/.exec(cmd)?.[1])
    .filter((f): f is string => f !== undefined);
  expect(entries.length).toBeGreaterThan(15);
  const before = generated();
  for (const script of entries) {
    const r = spawn(script, ["--version"]);
    expect([script, r.code, r.out]).toEqual([script, 0, expect.stringMatching(/^pruning-harness \d+\.\d+\.\d+ \(commit .+\), bun \d/)]);
  }
  expect(generated()).toEqual(before);
}, 120_000);

test("a bad flag value exits 2 before anything runs", () => {
  const r = spawn("bench/conv-grad-variants.ts", ["--batch", "abc"]);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(/--batch <n>' argument 'abc' is invalid/);
  expect(r.out).toBe("");
}, 30_000);

import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO, tempRuns } from "./helpers.ts";

function train(args: string[]) {
  const runs = tempRuns();
  const r = Bun.spawnSync([process.execPath, join(REPO, "src/cli/train.ts"), "--runs-dir", runs, ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, err: r.stderr.toString(), out: r.stdout.toString(), wrote: existsSync(runs) };
}

const cases: [string, string[], RegExp][] = [
  ["unknown preset", ["--preset", "huge"], /argument 'huge' is invalid/],
  ["unknown flag", ["--preset", "smoke", "--epochz", "3"], /unknown option '--epochz'/],
  ["bad setting value", ["--preset", "smoke", "--set", "optim.lr=-1"], /optim\.lr: expected > 0, given -1/],
  ["unknown setting", ["--preset", "smoke", "--set", "optim.epochz=3"], /optim\.epochz: unknown setting/],
  ["bad runner flag", ["--preset", "smoke", "--jobs", "-3"], /jobs: expected >= 0, given -3/],
  ["bad seeds", ["--preset", "smoke", "--seeds", "1,x"], /--seeds: expected comma-separated/],
  ["missing data directory", ["--preset", "smoke", "--set", "data.dataset=cifar10", "--data-dir", "/nonexistent/cifar"], /\/nonexistent\/cifar/],
];

for (const [name, args, message] of cases) {
  test(`${name}: exit 2 with a message naming it, nothing written`, () => {
    const r = train(args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.wrote).toBe(false);
  }, 30_000);
}

test("--dry-run prints the plan and writes nothing", () => {
  const r = train(["--preset", "smoke", "--seeds", "1,2", "--dry-run"]);
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/plan: 2 units \(train: 2 \(0 complete\)\); 0 already complete/);
  expect(r.out).toMatch(/estimated compute/);
  expect(r.wrote).toBe(false);
}, 30_000);

test("--dry-run sizes the paper preset without running it", () => {
  const r = train(["--preset", "paper", "--seeds", "1,2,3", "--dry-run"]);
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/plan: 3 units/);
  expect(r.out).toMatch(/24,000,000 training images/);
}, 30_000);

import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const REPO = join(import.meta.dir, "../..");
const run = (script: string, args: string[]) => {
  const r = Bun.spawnSync([process.execPath, join(REPO, script), ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
};

const COMMANDS = [
  "repro/fig2.ts",
  "bench/bip-vs-imp.ts",
  "bench/sparse-inference.ts",
  "bench/train-throughput.ts",
  "src/cli/train.ts",
  "src/cli/models-export.ts",
];

for (const script of COMMANDS) {
  test(`${script}: the example in --help works, --version prints the commit, a bad flag is one line and a hint`, () => {
    const help = run(script, ["--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toContain("Settings (schemas/");
    const example = /Example: --set (\S+)/.exec(help.out)?.[1];
    expect(example).toBeDefined();
    const printed = run(script, ["--preset", "smoke", "--set", example!, "--print-config"]);
    expect(printed.err).toBe("");
    expect(printed.code).toBe(0);
    const cfg = JSON.parse(printed.out) as Record<string, unknown>;
    // The example's value is what the printed config holds at its path.
    const [path, value] = example!.split("=") as [string, string];
    expect(path.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], cfg)).toEqual(JSON.parse(value));
    const v = run(script, ["--version"]);
    expect(v.code).toBe(0);
    expect(v.out).toMatch(/^pruning-harness \d+\.\d+\.\d+ \(commit [0-9a-f]{12}|unknown/);
    const bad = run(script, ["--no-such-flag"]);
    expect(bad.code).toBe(2);
    expect(bad.err.trim().split("\n")).toEqual(["error: unknown option '--no-such-flag'", "(run with --help for usage)"]);
  }, 30_000);
}

test("--print-config writes a config file that reproduces itself", () => {
  const first = run("repro/fig2.ts", ["--preset", "smoke", "--set", "densities=0.2,0.6", "--print-config"]);
  expect(first.code).toBe(0);
  const file = join(mkdtempSync(join(tmpdir(), "print-config-")), "protocol.json");
  writeFileSync(file, first.out);
  const again = run("repro/fig2.ts", ["--preset", "quick", "--config", file, "--print-config"]);
  expect(again.code).toBe(0);
  expect(JSON.parse(again.out)).toEqual(JSON.parse(first.out));
  expect(JSON.parse(first.out).densities).toEqual([0.2, 0.6]);
}, 30_000);

test("bench:sparse-inference takes --provider webgpu (the bundled WebGPU EP; CPU fallback with a notice when it cannot start)", () => {
  const r = run("bench/sparse-inference.ts", ["--preset", "smoke", "--provider", "webgpu", "--print-config"]);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.out).provider).toBe("webgpu");
  const bad = run("bench/sparse-inference.ts", ["--provider", "tpu"]);
  expect(bad.code).toBe(2);
  expect(bad.err).toContain("Allowed choices are auto, cuda, webgpu, cpu");
}, 30_000);

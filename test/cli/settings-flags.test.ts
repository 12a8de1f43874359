import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
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
  // The file names its preset (smoke): no --preset needed, and the default (quick) does not leak in.
  const again = run("repro/fig2.ts", ["--config", file, "--print-config"]);
  expect(again.code).toBe(0);
  expect(JSON.parse(again.out)).toEqual(JSON.parse(first.out));
  expect(JSON.parse(first.out).densities).toEqual([0.2, 0.6]);
}, 30_000);

test("--print-config of one preset, loaded with --config under the default preset, gives the identical config and plan", () => {
  const dir = mkdtempSync(join(tmpdir(), "print-config-"));
  const runs = join(dir, "runs");
  const paper = run("repro/fig2.ts", ["--preset", "paper", "--print-config"]);
  expect(paper.code).toBe(0);
  const printed = JSON.parse(paper.out) as Record<string, any>;
  expect(printed.$preset).toBe("paper");
  const file = join(dir, "paper.json");
  writeFileSync(file, paper.out);
  const again = run("repro/fig2.ts", ["--config", file, "--print-config"]);
  expect(again.err).toBe("");
  expect(JSON.parse(again.out)).toEqual(printed);
  // The quick preset's subset (trainLimit 3000) must not reach the paper protocol.
  expect(printed.dense.data.trainLimit).toBeUndefined();
  const plan = (args: string[]) => run("repro/fig2.ts", [...args, "--dry-run", "--runs-dir", runs]);
  const direct = plan(["--preset", "paper"]);
  const viaFile = plan(["--config", file]);
  expect(direct.code).toBe(0);
  expect(viaFile.code).toBe(0);
  expect(viaFile.out).toBe(direct.out);
  // 3 dense seeds; per seed 16 temperatures x 9 densities = 144 cells, each 3 retrains and one cell unit.
  expect(direct.out).toContain("1731 units");
  // The same preset given again is fine; another one is an error that names both.
  expect(plan(["--preset", "paper", "--config", file]).code).toBe(0);
  const clash = run("repro/fig2.ts", ["--preset", "quick", "--config", file, "--print-config"]);
  expect(clash.code).toBe(2);
  expect(clash.err.trim()).toMatch(/^error: --config .*paper\.json names preset "paper" \("\$preset"\) but --preset quick is given; drop --preset/);
}, 60_000);

test("the README's Data section commands and flags parse on every command that trains", () => {
  const readme = readFileSync(join(REPO, "README.md"), "utf8");
  const data = readme.slice(readme.indexOf("\n## Data\n"), readme.indexOf("\n## ", readme.indexOf("\n## Data\n") + 1));
  const scripts = (JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
  const dir = mkdtempSync(join(tmpdir(), "readme-data-"));
  const args = (text: string) =>
    text
      .trim()
      .split(/\s+/)
      .map((a) => a.replace(/^\/path\/to\/.*/, dir));
  // Whole command lines: code-block lines and inline spans that start with `bun run`.
  const lines = [...data.matchAll(/^bun run (.*)$/gm), ...data.matchAll(/`bun run ([^`]+)`/g)].map((m) => m[1]!);
  // Flags and settings written on their own (`--dataset npy --data-dir /path/to/dir`): every command that trains takes them.
  const flags = [...data.matchAll(/`(--(?:dataset|data-dir|set) [^`<]+)`/g)].map((m) => m[1]!);
  const commands = ["train", "repro:fig2", "bench:bip-vs-imp", "models:export", "bench:train"];
  expect(lines.length).toBeGreaterThanOrEqual(3);
  expect(flags.length).toBeGreaterThanOrEqual(2);
  for (const line of [...lines, ...commands.flatMap((c) => flags.map((f) => `${c} ${f}`))]) {
    const [name, ...rest] = args(line);
    const script = scripts[name!]?.replace(/^bun /, "");
    expect(script, line).toBeDefined();
    const r = run(script!, [...rest, "--print-config"]);
    expect(`${line}: ${r.err}`).toBe(`${line}: `);
    expect(r.code).toBe(0);
  }
}, 120_000);

test("bench:sparse-inference takes --provider webgpu (the bundled WebGPU EP; CPU fallback with a notice when it cannot start)", () => {
  const r = run("bench/sparse-inference.ts", ["--preset", "smoke", "--provider", "webgpu", "--print-config"]);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.out).provider).toBe("webgpu");
  const bad = run("bench/sparse-inference.ts", ["--provider", "tpu"]);
  expect(bad.code).toBe(2);
  expect(bad.err).toContain("Allowed choices are auto, cuda, webgpu, cpu");
}, 30_000);

/**
 * Bad inputs that used to pass silently, crash with a stack trace or be misreported:
 * each is a clean one-line `error: ...` (exit 2) that names the setting and the fix.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Fig2Config } from "../../src/config/generated/fig2.ts";
import type { RunnerConfig } from "../../src/config/generated/runner.ts";
import { applyOverride, ConfigError, validateConfig } from "../../src/config/load.ts";
import { loadPresetConfig } from "../../src/config/presets.ts";
import { checkAxisSettings, checkSeedSettings } from "../../src/experiments/fig2.ts";
import { resources } from "../../src/runner/run-units.ts";
import { checkBatchSize } from "../../src/train/setup.ts";

const REPO = join(import.meta.dir, "../..");
const dir = mkdtempSync(join(tmpdir(), "bad-inputs-"));
const runs = join(dir, "runs");
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

function run(script: string, args: string[]) {
  const r = Bun.spawnSync([process.execPath, join(REPO, script), ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

/**
 * Exit 2, one `error: ...` line matching `message` (a schema's "invalid ...:" line may
 * list its problems below, one "  - " line each), no stack trace, nothing on stdout.
 */
function refused(script: string, args: string[], message: RegExp): void {
  const r = run(script, [...args, "--runs-dir", runs]);
  expect(r.err).toMatch(message);
  expect(r.code).toBe(2);
  expect(r.err).toStartWith("error: ");
  const [, ...more] = r.err.trim().split("\n");
  expect(more.filter((l) => !l.startsWith("  - "))).toEqual([]);
  expect(r.err).not.toMatch(/^\s+at /m);
  expect(r.out).toBe("");
}

const FIG2 = "repro/fig2.ts";
const BIP = "bench/bip-vs-imp.ts";
const TRAIN = "src/cli/train.ts";

// ---- 1. Duplicates in list settings

test("a repeated value in a list setting is an error naming the setting and the value", () => {
  refused(FIG2, ["--preset", "smoke", "--set", "seeds.retrain=1,1", "--dry-run"], /seeds.retrain: 1 is listed twice .*give each value once/);
  refused(FIG2, ["--preset", "smoke", "--set", "densities=0.5,0.5,0.1", "--dry-run"], /densities: 0\.5 is listed twice/);
  expect(() => loadPresetConfig("bip-vs-imp", "bip-bench", "smoke", ["methods=imp,bip,imp"])).toThrow(/methods: "imp" is listed twice \(items 0 and 2/);
  expect(() => loadPresetConfig("fig2", "fig2", "smoke", [], [file("dup.json", JSON.stringify({ temperature: { epochs: [1, 2, 2] } }))])).toThrow(
    /temperature\.epochs: 2 is listed twice/,
  );
}, 30_000);

type Node = Record<string, unknown>;
const schemas = new Map(readdirSync(join(REPO, "schemas")).map((f) => [f, JSON.parse(readFileSync(join(REPO, "schemas", f), "utf8")) as Node]));
function deref(node: Node, at: string): { node: Node; at: string } {
  while (typeof node.$ref === "string") {
    const [target, pointer = ""] = node.$ref.split("#");
    at = target || at;
    node = pointer
      .split("/")
      .filter(Boolean)
      .reduce<Node>((n, k) => n[k] as Node, schemas.get(at)!);
  }
  return { node, at };
}
/** Every array setting whose items are scalars, as "schema: path". */
function scalarLists(node: Node, at: string, path: string[], out: { name: string; node: Node }[]): void {
  ({ node, at } = deref(node, at));
  if (node.type === "array") {
    const items = deref((node.items ?? {}) as Node, at);
    if (["string", "number", "integer", "boolean"].includes(items.node.type as string)) out.push({ name: `${at}: ${path.join(".")}`, node });
    else scalarLists(items.node, items.at, [...path, "[]"], out);
  }
  for (const [k, v] of Object.entries((node.properties ?? {}) as Record<string, Node>)) scalarLists(v, at, [...path, k], out);
}

test("every list-of-scalars setting of every command's schema refuses duplicates (uniqueItems)", () => {
  // A shape may repeat a size; sbatch arguments are passed verbatim.
  const exempt = new Set(["bench-train.schema.json: throughput.cases.[].inputShape", "runner.schema.json: slurm.extraArgs"]);
  const lists: { name: string; node: Node }[] = [];
  for (const s of ["training", "fig2", "bip-bench", "models-export", "sparse-inference", "bench-train", "runner"])
    scalarLists(schemas.get(`${s}.schema.json`)!, `${s}.schema.json`, [], lists);
  expect(lists.length).toBeGreaterThan(15);
  const missing = lists.filter((l) => !exempt.has(l.name) && l.node.uniqueItems !== true).map((l) => l.name);
  expect(missing).toEqual([]);
  expect(() => validateConfig<RunnerConfig>("runner", { gpus: ["0", "0"] })).toThrow(/gpus: "0" is listed twice/);
});

test("--seeds refuses repeats and empty entries instead of training seed 0 or one model twice", () => {
  refused(TRAIN, ["--preset", "smoke", "--seeds", "1,1", "--dry-run"], /--seeds: .*given "1,1" \(1 is listed twice/);
  refused(TRAIN, ["--preset", "smoke", "--seeds", "", "--dry-run"], /--seeds: .*given "" \(an empty entry\)/);
  refused(TRAIN, ["--preset", "smoke", "--seeds", "1,,2", "--dry-run"], /--seeds: .*given "1,,2" \(an empty entry\)/);
}, 30_000);

// ---- 2. __proto__ and friends

test("a path segment __proto__, prototype or constructor is a clean error, and nothing is polluted", () => {
  refused(FIG2, ["--preset", "smoke", "--set", "__proto__.x=1", "--dry-run"], /"__proto__" is not a setting name/);
  for (const bad of ["__proto__.x=1", "optim.__proto__=1", "constructor.x=1", "prototype.x=1"])
    expect(() => applyOverride({}, bad, "training")).toThrow(ConfigError);
  expect(({} as Record<string, unknown>).x).toBeUndefined();
  const proto = file("proto.json", '{"dense": {"__proto__": {"x": 1}}}');
  expect(() => loadPresetConfig("fig2", "fig2", "smoke", [], [proto])).toThrow(/--config .*proto\.json: "__proto__" is not a setting name/);
}, 30_000);

// ---- 3. Numbers JSON cannot write

test("1e999 is reported as given, not as null", () => {
  refused(TRAIN, ["--preset", "smoke", "--set", "optim.lr=1e999", "--dry-run"], /optim\.lr: given 1e999 \(not a finite number\)/);
  expect(() => applyOverride({}, "densities=0.1,1e999", "fig2")).toThrow(/densities: given 0\.1,1e999 \(not a finite number\)/);
  const inf = file("inf.json", '{"optim": {"lr": 1e999}}');
  expect(() => loadPresetConfig("train", "training", "smoke", [], [inf])).toThrow(/optim\.lr: expected number, given Infinity \(not a finite number\)/);
}, 30_000);

// ---- 5. Settings the temperature axis sets itself

test("a dense setting the temperature axis replaces is an error that says what to set instead", () => {
  refused(
    FIG2,
    ["--set", "dense.optim.epochs=60", "--dry-run"],
    /dense\.optim\.epochs=60 is set by the temperature axis "epochs" \(temperature\.epochs=5,12,18,30\).*set temperature\.epochs instead.*--temperature sam/,
  );
  const preset = loadPresetConfig<Fig2Config>("fig2", "fig2", "quick");
  const cfg = (axis: string, set: string[]) => loadPresetConfig<Fig2Config>("fig2", "fig2", "quick", [`temperature.axis=${axis}`, ...set]);
  expect(() => checkAxisSettings(cfg("batch-size", ["dense.optim.batchSize=32"]), preset)).toThrow(
    /dense\.optim\.batchSize=32 is set by the temperature axis "batch-size" \(temperature\.batchSizes=16,32,64,128\).*temperature\.batchSizes instead/,
  );
  expect(() => checkAxisSettings(cfg("batch-size", ["dense.optim.epochs=60"]), preset)).toThrow(/temperature\.iterations instead/);
  expect(() => checkAxisSettings(cfg("sam", ["dense.optim.samRho=0.3"]), preset)).toThrow(/dense\.optim\.samRho=0\.3 .*temperature\.samRhos instead/);
  // Set with --set, even to the preset's value: the axis decides it, not the setting.
  expect(() => checkAxisSettings(cfg("epochs", ["dense.optim.epochs=30"]), preset, ["dense.optim.epochs=30"])).toThrow(/dense\.optim\.epochs=30 is set by/);
  // Settings the axis leaves alone, and the preset's own values (as a --config file repeats them), are fine.
  for (const [axis, set] of [
    ["sam", ["dense.optim.epochs=60"]],
    ["epochs", ["dense.optim.batchSize=32", "dense.optim.samRho=0.1"]],
    ["batch-size", ["dense.optim.epochs=30", "dense.optim.samRho=0.1"]],
  ] as const)
    expect(() => checkAxisSettings(cfg(axis, [...set]), preset)).not.toThrow();
}, 30_000);

test("dense.seed and dense.stream, which the grid sets per unit, are errors that say what to set instead", () => {
  refused(FIG2, ["--set", "dense.seed=2", "--dry-run"], /dense\.seed=2 is set by the grid from seeds\.dense \(1\); set seeds\.dense=2 instead/);
  refused(FIG2, ["--set", "dense.stream=mine", "--dry-run"], /dense\.stream="mine" is set by the grid/);
  // The setting they replace names its successor.
  refused(FIG2, ["--set", "retrainSeeds=1,2", "--dry-run"], /retrainSeeds: unknown setting; renamed to seeds\.retrain/);
  const cfg = (set: string[]) => loadPresetConfig<Fig2Config>("fig2", "fig2", "quick", set);
  // From a --config file (no --set): still refused, since the value differs from the default.
  expect(() => checkSeedSettings(cfg(["dense.seed=3"]))).toThrow(/set seeds\.dense=3 instead/);
  expect(() => checkSeedSettings(cfg(["seeds.dense=2,3"]))).not.toThrow();
}, 30_000);

test("the README's repro:fig2 examples with --set plan without error", () => {
  const readme = readFileSync(join(REPO, "README.md"), "utf8");
  // A how-to line that reads a file its guide writes first runs in test/docs/howto.test.ts instead.
  const lines = [...readme.matchAll(/^bun run repro:fig2 (.*--set .*)$/gm)]
    .map((m) => m[1]!.replace(/#.*$/, "").replace(/>.*$/, "").trim())
    .filter((l) => !l.includes("startWeights.path="));
  expect(lines.length).toBeGreaterThan(0);
  for (const l of lines) {
    const args = l.split(/\s+/).filter((a) => a !== "--print-config");
    const r = run(FIG2, [...args, "--dry-run", "--runs-dir", runs]);
    expect(`${l}: ${r.err}`).not.toContain("error:");
    expect(r.code).toBe(0);
  }
}, 60_000);

// ---- 6. --data-dir beside a dataset that reads none

test("--data-dir with the synthetic dataset is an error on every command, not ignored", () => {
  refused(
    TRAIN,
    ["--preset", "smoke", "--data-dir", dir, "--dry-run"],
    /--data-dir is given but data\.dataset is synthetic .*add --dataset cifar10\|cifar100\|tiny-imagenet\|image-folder\|fashion-mnist\|npy\|auto /,
  );
  refused(FIG2, ["--preset", "smoke", "--data-dir", dir, "--dry-run"], /--data-dir is given but dense\.data\.dataset is synthetic/);
  refused(BIP, ["--preset", "smoke", "--data-dir", dir, "--dry-run"], /--data-dir is given but dense\.data\.dataset is synthetic/);
  refused(TRAIN, ["--preset", "smoke", "--set", `data.dataDir=${dir}`, "--dry-run"], /data\.dataDir is set but data\.dataset is synthetic/);
}, 60_000);

// ---- 7. A batch larger than the training set

test("a batch size larger than the training set is an error naming both numbers", () => {
  refused(
    TRAIN,
    ["--preset", "smoke", "--set", "data.trainLimit=384", "--set", "optim.batchSize=100000", "--dry-run"],
    /optim\.batchSize: 100000 is larger than the 384 training images \(data\.trainLimit=384\)/,
  );
  refused(FIG2, ["--preset", "smoke", "--set", "retrain.batchSize=100000", "--dry-run"], /retrain\.batchSize: 100000 is larger than the 384 training images/);
  expect(() => checkBatchSize("optim.batchSize", 512, 500)).toThrow(ConfigError);
  expect(() => checkBatchSize("optim.batchSize", 500, 500)).not.toThrow();
}, 30_000);

// ---- 8. --jobs beyond the machine

test("--jobs beyond what the machine holds is an error, not a worker per unit", () => {
  const cfg = (jobs: number) => validateConfig<RunnerConfig>("runner", { jobs });
  const machine = { cores: 2, memoryBytes: 8e9 };
  expect(resources(cfg(8), machine).jobs).toBe(8);
  expect(() => resources(cfg(9), machine)).toThrow(/--jobs 9: this machine holds at most 8 workers \(2 cores/);
  expect(() => resources(cfg(8), { cores: 16, memoryBytes: 1.5e9 })).toThrow(/at most 5 workers/);
  refused(TRAIN, ["--preset", "smoke", "--jobs", "100000", "--dry-run"], /--jobs 100000: this machine holds at most \d+ workers/);
}, 30_000);

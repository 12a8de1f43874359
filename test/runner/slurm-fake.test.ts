/**
 * The Slurm executor without a cluster: the generated sbatch script run by bash with a
 * fake task environment, and fake sbatch/squeue/scancel commands on PATH.
 */
import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { addRunnerOptions, runnerConfig, type RunnerFlags } from "../../src/cli/common.ts";
import type { RunnerConfig } from "../../src/config/generated/runner.ts";
import { ConfigError, validateConfig } from "../../src/config/load.ts";
import { checkSlurmTime, formatPlan, makePlan, slurmTimeSeconds } from "../../src/runner/plan.ts";
import { runUnits } from "../../src/runner/run-units.ts";
import { sbatchScript } from "../../src/runner/slurm.ts";
import { RunStore } from "../../src/runner/store.ts";
import { FIXTURE_KINDS, REPO, runner, tempRuns, tinyTrain, unit } from "./helpers.ts";

const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));
const slurmCfg = (over: Record<string, unknown> = {}) => validateConfig<RunnerConfig>("runner", { slurm: over }).slurm;

/** Runs a generated script with bash in a fake array task; the worker is a fake bun that logs its arguments and GPU. */
function runScript(script: string, env: Record<string, string | undefined>, cwd = tmp("task-cwd-")) {
  const dir = tmp("task-");
  const file = join(dir, "job.sbatch");
  writeFileSync(file, script);
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "CUDA_VISIBLE_DEVICES"));
  const r = Bun.spawnSync(["bash", file], { cwd, env: { ...base, SLURM_SUBMIT_DIR: REPO, ...env } as Record<string, string>, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

function fakeBun(): { bun: string; calls: () => { index: string; gpu: string; cwd: string }[] } {
  const dir = tmp("fake-bun-");
  const log = join(dir, "calls");
  const bun = join(dir, "bun");
  writeFileSync(bun, `#!/bin/bash\necho "$PWD|\${CUDA_VISIBLE_DEVICES-unset}|$*" >> ${JSON.stringify(log)}\n`, { mode: 0o755 });
  return {
    bun,
    calls: () =>
      (existsSync(log) ? readFileSync(log, "utf8") : "")
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => {
          const [cwd, gpu, args] = l.split("|");
          return { cwd: cwd!, gpu: gpu!, index: /--index (\S+)/.exec(args!)![1]! };
        })
        .sort((a, b) => Number(a.index) - Number(b.index)),
  };
}

test("Slurm: each unit of an array task gets its own GPU from the task's CUDA_VISIBLE_DEVICES, shared round-robin when fewer", () => {
  const script = (count: number, k: number) =>
    sbatchScript({
      name: "x",
      count,
      manifest: "/m",
      runsDir: "/r",
      logDir: "/l",
      slurm: slurmCfg({ cpusPerTask: 4, gpus: 2 }),
      staleLockSeconds: 60,
      jobsPerGpu: k,
    });
  // k = 2 units, 2 GPUs: one each (task 1 runs manifest lines 2 and 3).
  let f = fakeBun();
  let r = runScript(script(4, 2), { SLURM_ARRAY_TASK_ID: "1", CUDA_VISIBLE_DEVICES: "3,5", PRUNING_HARNESS_BUN: f.bun });
  expect(r.code).toBe(0);
  expect(f.calls().map((c) => [c.index, c.gpu])).toEqual([
    ["2", "3"],
    ["3", "5"],
  ]);
  expect(r.err).toContain("manifest line 3 on GPU 5");
  // k = 3 units, 2 GPUs: unit j on element j mod 2.
  f = fakeBun();
  r = runScript(script(3, 3), { SLURM_ARRAY_TASK_ID: "0", CUDA_VISIBLE_DEVICES: "3,5", PRUNING_HARNESS_BUN: f.bun });
  expect(f.calls().map((c) => c.gpu)).toEqual(["3", "5", "3"]);
  // More GPUs than units: the first k.
  f = fakeBun();
  runScript(script(2, 2), { SLURM_ARRAY_TASK_ID: "0", CUDA_VISIBLE_DEVICES: "0,1,2,3", PRUNING_HARNESS_BUN: f.bun });
  expect(f.calls().map((c) => c.gpu)).toEqual(["0", "1"]);
  // No GPUs in the task: left alone.
  f = fakeBun();
  runScript(script(2, 2), { SLURM_ARRAY_TASK_ID: "0", PRUNING_HARNESS_BUN: f.bun });
  expect(f.calls().map((c) => c.gpu)).toEqual(["unset", "unset"]);
});

test("the sbatch script bakes in no path of the submitting machine: it runs from $SLURM_SUBMIT_DIR with ${PRUNING_HARNESS_BUN:-bun}, and says when bun is missing", async () => {
  const s = sbatchScript({ name: "x", count: 1, manifest: "/m", runsDir: "/r", logDir: "/l", slurm: slurmCfg(), staleLockSeconds: 60 });
  expect(s).not.toContain(process.execPath);
  expect(s).not.toContain(`cd ${JSON.stringify(REPO)}`);
  expect(s).toContain('cd "$SLURM_SUBMIT_DIR"');
  // No bun on the compute node: one clear line in the task's log.
  const missing = runScript(s, { SLURM_ARRAY_TASK_ID: "0", PRUNING_HARNESS_BUN: "/nonexistent/bun" });
  expect(missing.code).toBe(127);
  expect(missing.err).toMatch(/pruning-harness: bun not found on .*\/nonexistent\/bun.*PRUNING_HARNESS_BUN/);
  // The fake bun starts in the submit dir, whatever the task's cwd, with the worker path relative to it.
  const f = fakeBun();
  expect(runScript(s, { SLURM_ARRAY_TASK_ID: "0", PRUNING_HARNESS_BUN: f.bun }).code).toBe(0);
  expect(f.calls()[0]!.cwd).toBe(REPO);
  // A real worker, started from another directory, runs its unit.
  const runs = tempRuns();
  const store = new RunStore(runs);
  const u = unit("echo", { value: 3 });
  store.plan(u);
  const manifest = join(tmp("manifest-"), "units");
  writeFileSync(manifest, `${u.id}\n`);
  const real = sbatchScript({ name: "x", count: 1, manifest, runsDir: runs, logDir: "/l", slurm: slurmCfg({ cpusPerTask: 1 }), staleLockSeconds: 60 });
  const r = runScript(real, { SLURM_ARRAY_TASK_ID: "0", PRUNING_HARNESS_BUN: process.execPath, PRUNING_HARNESS_EXTRA_KINDS: FIXTURE_KINDS });
  expect(r.code).toBe(0);
  expect(store.result(u.id)!.metrics.value).toBe(3);
}, 60_000);

/** Fake sbatch (job 4242; records its cwd and script), squeue (answers from a list, one per call, the last repeated) and scancel. */
function fakeSlurm(squeue: { out?: string; err?: string; code?: number }[]) {
  const bin = tmp("fake-slurm-");
  writeFileSync(join(bin, "sbatch"), `#!/bin/sh\necho "$PWD $*" >> ${join(bin, "sbatch.calls")}\necho 4242\n`, { mode: 0o755 });
  writeFileSync(join(bin, "scancel"), `#!/bin/sh\necho "$*" >> ${join(bin, "scancel.calls")}\n`, { mode: 0o755 });
  squeue.forEach((a, i) => writeFileSync(join(bin, `squeue.${i}`), `${a.out ?? ""}\n${a.err ?? ""}\n${a.code ?? 0}\n`));
  writeFileSync(
    join(bin, "squeue"),
    `#!/bin/bash
d=${JSON.stringify(bin)}; n=$(cat "$d/count" 2>/dev/null || echo 0); echo $((n + 1)) > "$d/count"
f="$d/squeue.$n"; [ -f "$f" ] || f="$d/squeue.${squeue.length - 1}"
{ read -r out; read -r err; read -r code; } < "$f"
[ -n "$out" ] && echo "$out"; [ -n "$err" ] && echo "$err" >&2; exit "$code"
`,
    { mode: 0o755 },
  );
  return {
    bin,
    PATH: `${bin}:${process.env.PATH}`,
    calls: (c: string) => (existsSync(join(bin, `${c}.calls`)) ? readFileSync(join(bin, `${c}.calls`), "utf8") : ""),
  };
}

const savedPath = process.env.PATH;
afterEach(() => {
  process.env.PATH = savedPath;
});
const TIMEOUT = "slurm_load_jobs error: Socket timed out on send/recv operation";

test("a squeue that fails now and then is retried with backoff, and the run goes on", async () => {
  const fake = fakeSlurm([{ err: TIMEOUT, code: 1 }, { out: "4242_0 RUNNING" }, { err: TIMEOUT, code: 1 }, {}]);
  process.env.PATH = fake.PATH;
  const lines: string[] = [];
  const cfg = runner(tempRuns(), { executor: "slurm", maxAttempts: 1, slurm: slurmCfg({ pollSeconds: 0.02, pollRetries: 2 }) });
  // The fake sbatch runs nothing: the unit is left without a result after its one attempt.
  const out = await runUnits([unit("echo", { value: 1 })], cfg, { reportDir: "/nonexistent", log: (l) => lines.push(l), progress: false });
  expect(lines.filter((l) => l.includes("squeue failed")).length).toBe(2);
  expect(lines.join("\n")).toMatch(/squeue failed \(slurm_load_jobs error: Socket timed out.*\); retry 1\/2 in 0\.04 s/);
  expect(lines.join("\n")).toContain("slurm: job 4242: 1 task(s) queued or running");
  expect(out!.failed.length).toBe(1);
  // sbatch ran from the repo root: the tasks start in $SLURM_SUBMIT_DIR.
  expect(fake.calls("sbatch").split(" ")[0]).toBe(REPO);
}, 60_000);

test("a unit that fails under Slurm names its task's log, .slurm/<jobid>_<task>.out", async () => {
  process.env.PATH = fakeSlurm([{}]).PATH;
  const runs = tempRuns();
  const units = [unit("echo", { value: 1 }, [], "first"), unit("echo", { value: 2 }), unit("echo", { value: 3 }, [], "third")];
  const lines: string[] = [];
  const cfg = runner(runs, { executor: "slurm", maxAttempts: 1, jobsPerGpu: 2, slurm: slurmCfg({ pollSeconds: 0.02 }) });
  const out = await runUnits(units, cfg, { reportDir: "/nonexistent", log: (l) => lines.push(l), progress: false });
  const byLabel = new Map(out!.failed.map((f) => [f.label ?? f.id, f.error]));
  expect(byLabel.get("first")).toBe(`did not complete (Slurm log: ${join(runs, ".slurm", "4242_0.out")})`);
  // Two units per task: the third unit ran in task 1.
  expect(byLabel.get("third")).toContain(join(runs, ".slurm", "4242_1.out"));
  expect(lines.join("\n")).toContain(`slurm: third failed after 1 attempt(s); its last task's log: ${join(runs, ".slurm", "4242_1.out")}`);
}, 60_000);

test("squeue failing past pollRetries: the job left running and `scancel <jobid>`, exit 3, no stack trace", () => {
  const fake = fakeSlurm([{ out: "4242_0 RUNNING" }, { err: TIMEOUT, code: 1 }]);
  const r = Bun.spawnSync(
    [
      process.execPath,
      join(REPO, "src/cli/train.ts"),
      "--preset",
      "smoke",
      "--executor",
      "slurm",
      "--slurm-poll",
      "0.02",
      "--slurm-poll-retries",
      "2",
      "--runs-dir",
      tempRuns(),
    ],
    { stdout: "pipe", stderr: "pipe", env: { ...process.env, PATH: fake.PATH } },
  );
  const err = r.stderr.toString();
  expect(r.exitCode).toBe(3);
  expect(err).toContain("retry 2/2");
  expect(err).toMatch(/error: --executor slurm: squeue failed 3 time\(s\) in a row \(last: slurm_load_jobs error: Socket timed out/);
  expect(err).toContain("Still queued or running at the last answer: 4242_0 RUNNING");
  expect(err).toContain("`scancel 4242`");
  expect(err).not.toMatch(/\n\s+at /);
  // Left running, not cancelled.
  expect(fake.calls("scancel")).toBe("");
}, 60_000);

test("--slurm-extra (repeatable) and --slurm-poll-retries reach the runner config and the sbatch script", () => {
  const cmd = addRunnerOptions(new Command("x").exitOverride());
  const f = cmd.parse(["--slurm-extra=--account=abc", "--slurm-extra", "--qos=high", "--slurm-poll-retries", "7"], { from: "user" }).opts<RunnerFlags>();
  const cfg = runnerConfig(f);
  expect(cfg.slurm.extraArgs).toEqual(["--account=abc", "--qos=high"]);
  expect(cfg.slurm.pollRetries).toBe(7);
  expect(runnerConfig({ runsDir: "runs", executor: "slurm" }).slurm.pollRetries).toBe(5);
  const s = sbatchScript({ name: "x", count: 1, manifest: "/m", runsDir: "/r", logDir: "/l", slurm: cfg.slurm, staleLockSeconds: 60 });
  expect(s).toContain("#SBATCH --account=abc\n#SBATCH --qos=high\n");
});

/** A bench:train record with one measured row of the tiny training unit's model. */
function throughputFile(engine: string, imagesPerSecond: number): string {
  const p = join(tmp("throughput-"), "tp.json");
  writeFileSync(
    p,
    JSON.stringify({
      context: { date: "2026-12-01T00:00:00Z" },
      config: { throughput: { cases: [{ name: "tiny", arch: "preresnet20", width: 4, inputShape: [3, 32, 32] }] } },
      throughput: [{ case: "tiny", engine, status: "measured", imagesPerSecond }],
    }),
  );
  return p;
}

test("Slurm time limits parse as sbatch reads them", () => {
  expect(slurmTimeSeconds("30")).toBe(1800);
  expect(slurmTimeSeconds("30:15")).toBe(1815);
  expect(slurmTimeSeconds("04:00:00")).toBe(14400);
  expect(slurmTimeSeconds("2-00")).toBe(172800);
  expect(slurmTimeSeconds("1-02:03")).toBe(93780);
  expect(slurmTimeSeconds("1-02:03:04")).toBe(93784);
  expect(slurmTimeSeconds("UNLIMITED")).toBe(Number.POSITIVE_INFINITY);
  expect(slurmTimeSeconds("4h")).toBeNull();
  expect(() => runnerConfig({ runsDir: "runs", executor: "slurm", slurmTime: "4h" })).toThrow(/--slurm-time: expected .* given "4h"/);
});

test("--executor slurm: a unit estimated past --slurm-time is an error naming it, its estimate, the limit and the fix; a rough estimate warns", async () => {
  // 6 epochs x 128 images at 1 img/s on the GPU: 768 s, over a 5-minute limit.
  const gpuUnit = tinyTrain(1, { engine: { name: "torch", device: "cuda" } });
  const cfg = (file: string, time: string) => runner(tempRuns(), { executor: "slurm", throughputFile: file, slurm: slurmCfg({ time, gpus: 1 }) });
  const err = await runUnits([gpuUnit], cfg(throughputFile("torch-cuda", 1), "00:05:00"), { reportDir: "/nonexistent", log: () => {}, progress: false }).catch(
    (e) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  expect(err.message).toContain(`--slurm-time 00:05:00 is shorter than the estimated time of unit seed 1 (${gpuUnit.id}): about 13 min`);
  expect(err.message).toContain("--slurm-time 01:00:00");
  // Within the limit: no problem.
  const store = new RunStore(tempRuns());
  const ok = await makePlan([gpuUnit], store, {
    jobs: 1,
    reportDir: "/nonexistent",
    throughputFile: throughputFile("torch-cuda", 1),
    slurm: { time: "00:15:00", gpus: 1, cpusPerTask: 2, unitsPerTask: 1 },
  });
  expect(() => checkSlurmTime(ok)).not.toThrow();
  expect(ok.slurm!.seconds).toBe(768);
  // A CPU engine measured on this machine is rough: a loud warning in the plan, not an error.
  const cpu = await makePlan([tinyTrain(1)], store, {
    jobs: 1,
    reportDir: "/nonexistent",
    throughputFile: throughputFile("onnx-cpu", 1),
    slurm: { time: "5", cpusPerTask: 2, unitsPerTask: 1 },
  });
  expect(() => checkSlurmTime(cpu)).not.toThrow();
  expect(formatPlan(cpu, { executor: "slurm", jobs: 1, runsDir: "runs" })).toMatch(
    /WARNING: unit seed 1 .* longer than --slurm-time 5; the estimate is rough \(onnx-cpu was measured/,
  );
}, 60_000);

test("--throughput-file: the planner reads it (not --report-dir's); a missing or invalid file is a clean error; by default the repo's reports/", async () => {
  const store = new RunStore(tempRuns());
  const u = tinyTrain(2);
  const plan = await makePlan([u], store, { jobs: 1, reportDir: tmp("custom-report-"), throughputFile: throughputFile("onnx-cpu", 64) });
  expect(plan.estimate!.imagesPerSecond).toBe(64);
  expect(plan.estimate!.seconds).toBe(12);
  // A custom report dir without a measurement: the repo's reports/train-throughput.json.
  if (existsSync(join(REPO, "reports/train-throughput.json"))) {
    const byDefault = await makePlan([u], store, { jobs: 1, reportDir: tmp("custom-report-") });
    expect(byDefault.estimate?.source).toContain(join(REPO, "reports/train-throughput.json"));
  }
  // One in the report dir wins over the repo's.
  const reportDir = tmp("report-with-tp-");
  writeFileSync(join(reportDir, "train-throughput.json"), readFileSync(throughputFile("onnx-cpu", 32)));
  expect((await makePlan([u], store, { jobs: 1, reportDir })).estimate!.imagesPerSecond).toBe(32);
  const missing = join(tmp("tp-"), "nope.json");
  expect(() => runnerConfig({ runsDir: "runs", executor: "local", throughputFile: missing })).toThrow(ConfigError);
  expect(() => runnerConfig({ runsDir: "runs", executor: "local", throughputFile: missing })).toThrow(`--throughput-file ${missing}: no such file`);
  const bad = join(tmp("tp-"), "bad.json");
  writeFileSync(bad, JSON.stringify({ throughput: [] }));
  expect(() => runnerConfig({ runsDir: "runs", executor: "local", throughputFile: bad })).toThrow(/--throughput-file .*bad\.json: not a bench:train record/);
  const notJson = join(tmp("tp-"), "text.json");
  writeFileSync(notJson, "not json");
  expect(() => runnerConfig({ runsDir: "runs", executor: "local", throughputFile: notJson })).toThrow(/not JSON/);
  // The CLI: exit 2, one line.
  const r = Bun.spawnSync(
    [process.execPath, join(REPO, "src/cli/train.ts"), "--preset", "smoke", "--dry-run", "--throughput-file", missing, "--runs-dir", tempRuns()],
    {
      stdout: "pipe",
      stderr: "pipe",
    },
  );
  expect(r.exitCode).toBe(2);
  expect(r.stderr.toString()).toContain(`error: --throughput-file ${missing}: no such file`);
}, 60_000);

/**
 * A fake sbatch that records its calls and, from submission `runFrom` on, runs every array
 * task of the script with bash before it answers (so squeue, answering empty, finds the
 * wave done); earlier submissions run nothing, like tasks that die before their worker starts.
 */
function fakeSlurmRunning(runFrom: number) {
  const bin = tmp("fake-slurm-run-");
  writeFileSync(
    join(bin, "sbatch"),
    `#!/bin/bash
d=${JSON.stringify(bin)}; n=$(( $(cat "$d/n" 2>/dev/null || echo 0) + 1 )); echo $n > "$d/n"
script="\${@: -1}"; echo "$script" >> "$d/sbatch.calls"
if [ "$n" -ge ${runFrom} ]; then
  last=$(sed -n 's/^#SBATCH --array=0-\\([0-9]*\\)$/\\1/p' "$script")
  for i in $(seq 0 "$last"); do SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_JOB_ID=77$n SLURM_SUBMIT_DIR=${JSON.stringify(REPO)} bash "$script" >> "$d/tasks.log" 2>&1; done
fi
echo 77$n
`,
    { mode: 0o755 },
  );
  writeFileSync(join(bin, "squeue"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  writeFileSync(join(bin, "scancel"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  return {
    PATH: `${bin}:${process.env.PATH}`,
    submissions: () => (existsSync(join(bin, "sbatch.calls")) ? readFileSync(join(bin, "sbatch.calls"), "utf8").trim().split("\n") : []),
  };
}

const slurmQuiet = (lines: string[]) => ({ reportDir: "/nonexistent", log: (l: string) => lines.push(l), progress: false });

test("Slurm: a wave whose tasks die is resubmitted until maxAttempts, then failed, and its dependents are never submitted", async () => {
  const fake = fakeSlurmRunning(99);
  process.env.PATH = fake.PATH;
  const first = unit("echo", { value: 1 }, [], "first"),
    after = unit("echo", { value: 2 }, [first.id], "after");
  const lines: string[] = [];
  const out = await runUnits(
    [first, after],
    runner(tempRuns(), { executor: "slurm", maxAttempts: 3, slurm: slurmCfg({ pollSeconds: 0.01 }) }),
    slurmQuiet(lines),
  );
  // Three submissions of the first wave, none of the second.
  expect(fake.submissions()).toHaveLength(3);
  expect(lines.filter((l) => l.startsWith("slurm: submitted job array"))).toEqual([
    expect.stringContaining("submitted job array 771 with 1 task(s)"),
    expect.stringContaining("submitted job array 772 with 1 task(s)"),
    expect.stringContaining("submitted job array 773 with 1 task(s)"),
  ]);
  expect(lines.join("\n")).toContain("slurm: first failed after 3 attempt(s)");
  expect(out!.failed.map((f) => f.label)).toContain("first");
  expect(out!.blocked).toEqual([after.id]);
}, 60_000);

test("Slurm: a wave that dies once is resubmitted and completes; the next wave follows it; nothing is submitted twice once done", async () => {
  const fake = fakeSlurmRunning(2);
  process.env.PATH = fake.PATH;
  process.env.PRUNING_HARNESS_BUN = process.execPath;
  const runs = tempRuns();
  const first = unit("echo", { value: 5 }, [], "first"),
    after = unit("echo", { value: 6 }, [first.id], "after");
  const lines: string[] = [];
  try {
    const out = await runUnits([first, after], runner(runs, { executor: "slurm", maxAttempts: 3, slurm: slurmCfg({ pollSeconds: 0.01 }) }), slurmQuiet(lines));
    expect(out!.failed).toEqual([]);
  } finally {
    delete process.env.PRUNING_HARNESS_BUN;
  }
  // Wave 1 twice (the first submission ran nothing), wave 2 once.
  expect(fake.submissions()).toHaveLength(3);
  const store = new RunStore(runs);
  expect([store.result(first.id)!.metrics.value, store.result(after.id)!.metrics.value]).toEqual([5, 6]);
}, 60_000);

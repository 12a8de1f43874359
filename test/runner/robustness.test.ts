import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { etaText } from "../../src/runner/progress-view.ts";
import { runUnits } from "../../src/runner/run-units.ts";
import { RunStore } from "../../src/runner/store.ts";
import { EXIT, runWorker } from "../../src/runner/worker.ts";
import { REPO, runner, tempRuns, tinyTrain, unit } from "./helpers.ts";

const quiet = { reportDir: "/nonexistent", log: () => {}, progress: false };
const cli = (script: string, args: string[]) => {
  const r = Bun.spawnSync([process.execPath, join(REPO, script), ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, err: r.stderr.toString(), out: r.stdout.toString() };
};

test("a truncated unit.json fails a worker once, cleanly, and the next planning run rewrites it", async () => {
  const runs = tempRuns();
  const u = unit("echo", { value: 7 });
  await runUnits([u], runner(runs), quiet);
  const store = new RunStore(runs);
  rmSync(join(runs, u.id, "done.json"));
  truncateSync(join(runs, u.id, "unit.json"), 100);
  // A worker (a Slurm task, say) meets the damage: one clean failure, not an endless retry.
  const lines: string[] = [];
  expect(await runWorker({ runsDir: runs, unitId: u.id, threads: 1, log: (l) => lines.push(l) })).toBe(EXIT.badInput);
  expect(store.failure(u.id)!.error).toMatch(/unit\.json is damaged/);
  // Planning again repairs it (it is derived data) and the unit completes.
  const out = await runUnits([u], runner(runs, { maxAttempts: 1 }), quiet);
  expect(out!.records.get(u.id)!.metrics.value).toBe(7);
  expect(JSON.parse(readFileSync(join(runs, u.id, "unit.json"), "utf8")).id).toBe(u.id);
}, 60_000);

test("the same unit asked for twice is planned and run once", async () => {
  const runs = tempRuns();
  const u = unit("echo", { value: 1 });
  const out = await runUnits([u, u], runner(runs), quiet);
  expect(out!.ran).toEqual([u.id]);
  expect(new RunStore(runs).attempts(u.id)).toBe(1);
  // On the command line a repeated seed is a mistake, said before anything is planned.
  const dry = cli("src/cli/train.ts", ["--preset", "smoke", "--seeds", "1,1", "--dry-run", "--runs-dir", tempRuns()]);
  expect(dry.code).toBe(2);
  expect(dry.err).toMatch(/--seeds: .*1 is listed twice/);
}, 60_000);

test("two runners sharing a store each count only the units their own workers ran", async () => {
  const runs = tempRuns();
  const units = [1, 2, 3, 4, 5, 6].map((v) => unit("echo", { value: v, sleepMs: 400 }));
  const [a, b] = await Promise.all([runUnits(units, runner(runs), quiet), runUnits([...units].reverse(), runner(runs), quiet)]);
  expect(a!.records.size).toBe(6);
  expect(b!.records.size).toBe(6);
  const both = [...a!.ran, ...b!.ran];
  expect(new Set(both).size).toBe(both.length);
  expect(both.length).toBe(6);
}, 60_000);

test("a finished unit keeps its result and outputs but not its resume checkpoint", async () => {
  const runs = tempRuns();
  const u = tinyTrain(1, { optim: { epochs: 1, batchSize: 32, lr: 0.05 } });
  const out = await runUnits([u], runner(runs), quiet);
  expect(out!.records.get(u.id)!.status).toBe("done");
  expect(existsSync(join(runs, u.id, "work"))).toBe(false);
  expect(readdirSync(join(runs, u.id))).toContain("model.ckpt");
}, 60_000);

test("unwritable places are clean errors (exit 2) before any unit runs", () => {
  const dir = mkdtempSync(join(tmpdir(), "unwritable-"));
  const file = join(dir, "a-file");
  writeFileSync(file, "");
  const runsFile = cli("src/cli/train.ts", ["--preset", "smoke", "--runs-dir", file]);
  expect(runsFile.code).toBe(2);
  expect(runsFile.err).toMatch(/--runs-dir .*a-file: cannot write there \((ENOTDIR|EEXIST): a file is in the way/);
  expect(runsFile.err).not.toMatch(/\n\s+at /);
  const runs = join(dir, "runs");
  const report = cli("repro/fig2.ts", ["--preset", "smoke", "--runs-dir", runs, "--report-dir", file]);
  expect(report.code).toBe(2);
  expect(report.err).toMatch(/--report-dir .*a-file: cannot write there/);
  // Checked before work: no unit was run.
  expect(existsSync(runs) ? readdirSync(runs).filter((d) => existsSync(join(runs, d, "done.json"))) : []).toEqual([]);
}, 60_000);

test("bad flag values are shown as given; an empty runs dir is refused; usage errors exit 2 everywhere", () => {
  const jobs = cli("src/cli/train.ts", ["--preset", "smoke", "--jobs", "abc", "--runs-dir", tempRuns()]);
  expect(jobs.code).toBe(2);
  expect(jobs.err).toContain('--jobs: expected an integer, given "abc"');
  const empty = cli("src/cli/train.ts", ["--preset", "smoke", "--runs-dir", ""]);
  expect(empty.code).toBe(2);
  expect(empty.err).toContain('--runs-dir: expected a directory, given ""');
  expect(cli("src/cli/doctor.ts", ["--bogus"]).code).toBe(2);
  for (const script of ["repro/fig2.ts", "bench/bip-vs-imp.ts"]) expect(cli(script, ["--help"]).out).toContain("--data-dir <dir>");
}, 60_000);

test("--executor slurm with no reachable cluster: one clean line, exit 2", () => {
  const bin = mkdtempSync(join(tmpdir(), "fake-slurm-"));
  for (const cmd of ["sbatch", "squeue"]) {
    writeFileSync(
      join(bin, cmd),
      "#!/bin/sh\necho 'sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)' >&2\nexit 1\n",
      { mode: 0o755 },
    );
  }
  const r = Bun.spawnSync([process.execPath, join(REPO, "src/cli/train.ts"), "--preset", "smoke", "--executor", "slurm", "--runs-dir", tempRuns()], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
  });
  const err = r.stderr.toString();
  expect(r.exitCode).toBe(2);
  expect(err).toMatch(/error: --executor slurm: sbatch refused the job: .*Unable to contact slurm controller/);
  expect(err).not.toMatch(/\n\s+at /);
}, 60_000);

test("the progress line's ETA is a duration or '-', never NaN text, also when every unit was reused", () => {
  expect(etaText({ total: 10, value: 10, startValue: 10, seconds: 0 })).toBe("0s");
  expect(etaText({ total: 10, value: 0, startValue: 0, seconds: 0 })).toBe("-");
  expect(etaText({ total: 10, value: 2, startValue: 2, seconds: 5 })).toBe("-");
  expect(etaText({ total: 100, value: 50, startValue: 0, seconds: 30 })).toBe("30 s");
});

// A read-only filesystem needs root to mount; skipped, with the reason, where that is not possible.
const roDir = mkdtempSync(join(tmpdir(), "ro-store-"));
const mountRo = () => process.getuid?.() === 0 && Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", roDir]).exitCode === 0;
// Probed at load and unmounted at once, so a filtered run never leaves it mounted.
const canMount = mountRo() && Bun.spawnSync(["umount", roDir]).exitCode === 0;
if (!canMount) console.warn("skipping the read-only store test: cannot mount a read-only tmpfs here (needs root)");
test.skipIf(!canMount)(
  "a read-only run store that needs a new unit: a clean error (EROFS), exit 2",
  () => {
    expect(mountRo()).toBe(true);
    try {
      const r = Bun.spawnSync([process.execPath, join(REPO, "src/cli/train.ts"), "--preset", "smoke", "--runs-dir", roDir], { stdout: "pipe", stderr: "pipe" });
      expect(r.exitCode).toBe(2);
      expect(r.stderr.toString()).toMatch(/--runs-dir .*: cannot write there \(EROFS: the filesystem is read-only\)/);
    } finally {
      Bun.spawnSync(["umount", roDir]);
    }
  },
  60_000,
);

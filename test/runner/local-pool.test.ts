import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runUnits } from "../../src/runner/run-units.ts";
import { RunStore } from "../../src/runner/store.ts";
import { outcomeOf, REPO, runner, tempRuns, tinyTrain, unit } from "./helpers.ts";

const quiet = { reportDir: "/nonexistent", log: () => {}, progress: false };

describe("local executor", () => {
  test("runs a grid with dependencies in order; a second run executes nothing", async () => {
    const runs = tempRuns();
    const a = unit("echo", { value: 1 });
    const b = unit("echo", { value: 2, sleepMs: 200 });
    const c = unit("echo", { value: 3 }, [a.id, b.id]);
    const first = await runUnits([c, a, b], runner(runs), quiet);
    expect(first!.records.size).toBe(3);
    const rc = first!.records.get(c.id)!;
    expect(rc.metrics.depValues).toEqual([1, 2]);
    expect(rc.metrics.finishedAtMs as number).toBeGreaterThanOrEqual(first!.records.get(b.id)!.metrics.finishedAtMs as number);
    const store = new RunStore(runs);
    const attemptsBefore = [a, b, c].map((u) => store.attempts(u.id));
    const second = await runUnits([a, b, c], runner(runs), quiet);
    expect([a, b, c].map((u) => store.attempts(u.id))).toEqual(attemptsBefore);
    expect(second!.records.get(c.id)).toEqual(rc);
  }, 60_000);

  test("a failing unit is retried, then reported; its dependents are blocked and the rest completes", async () => {
    const runs = tempRuns();
    const bad = unit("always-fails", { n: 1 });
    const after = unit("echo", { value: 5 }, [bad.id]);
    const fine = unit("echo", { value: 6 });
    const out = await runUnits([bad, after, fine], runner(runs, { maxAttempts: 2 }), quiet);
    expect(out!.failed.map((f) => f.id)).toEqual([bad.id]);
    expect(out!.failed[0]!.error).toContain("fails on purpose");
    expect(out!.blocked).toEqual([after.id]);
    expect(out!.records.has(fine.id)).toBe(true);
    expect(new RunStore(runs).attempts(bad.id)).toBe(2);
  }, 60_000);

  test("a diverging training run is recorded as diverged with its epoch; the grid continues", async () => {
    const runs = tempRuns();
    const nan = tinyTrain(1, { optim: { epochs: 3, batchSize: 32, lr: 1e30 } });
    const ok = tinyTrain(2, { optim: { epochs: 1, batchSize: 32, lr: 0.05 } });
    const out = await runUnits([nan, ok], runner(runs), quiet);
    const r = out!.records.get(nan.id)!;
    expect(r.status).toBe("diverged");
    expect((r.metrics.divergedAt as { epoch: number }).epoch).toBe(1);
    expect(out!.records.get(ok.id)!.status).toBe("done");
  }, 60_000);

  test("a corrupt result file is detected and the unit recomputed to the same result", async () => {
    const runs = tempRuns();
    const u = tinyTrain(3, { optim: { epochs: 1, batchSize: 32, lr: 0.05 } });
    const first = await runUnits([u], runner(runs), quiet);
    const p = join(runs, u.id, "result.json");
    writeFileSync(p, readFileSync(p, "utf8").slice(0, 100));
    const again = await runUnits([u], runner(runs), quiet);
    expect(outcomeOf(again!.records.get(u.id))).toEqual(outcomeOf(first!.records.get(u.id)));
    expect(new RunStore(runs).attempts(u.id)).toBe(2);
  }, 60_000);
});

describe("faults", () => {
  test("a worker killed with SIGKILL mid-training: re-running completes with the records of an uninterrupted run", async () => {
    const u = tinyTrain(4);
    const clean = await runUnits([u], runner(tempRuns()), quiet);
    const runs = tempRuns();
    const store = new RunStore(runs);
    store.plan(u);
    const worker = Bun.spawn([process.execPath, join(REPO, "src/runner/worker.ts"), "--runs-dir", runs, "--unit", u.id, "--threads", "1"], {
      stdout: "ignore",
      stderr: "ignore",
    });
    const ckpt = join(runs, u.id, "work", "checkpoint.ckpt");
    while (!existsSync(ckpt)) await Bun.sleep(20);
    worker.kill("SIGKILL");
    await worker.exited;
    expect(store.isDone(u.id)).toBe(false);
    const resumed = await runUnits([u], runner(runs), quiet);
    const r = resumed!.records.get(u.id)!;
    expect(r.attempts).toBe(2);
    expect(outcomeOf(r)).toEqual(outcomeOf(clean!.records.get(u.id)));
  }, 60_000);

  test("the whole runner killed mid-grid: re-running completes with the records of an uninterrupted run", async () => {
    const seeds = "5,6,7";
    const args = (runs: string) => [
      process.execPath,
      join(REPO, "src/cli/train.ts"),
      "--preset",
      "smoke",
      "--seeds",
      seeds,
      "--runs-dir",
      runs,
      "--jobs",
      "2",
      "--threads-per-job",
      "1",
      "--report-dir",
      "/nonexistent",
      "--set",
      "data.trainLimit=128",
      "--set",
      "data.testLimit=64",
      "--set",
      "optim.epochs=6",
      "--set",
      "engine.provider=cpu",
    ];
    const cleanRuns = tempRuns();
    expect(Bun.spawnSync(args(cleanRuns), { stdout: "ignore", stderr: "ignore" }).exitCode).toBe(0);
    const runs = tempRuns();
    // Its own process group, so the runner and its workers die together, as on a power cut.
    const proc = Bun.spawn(["setsid", ...args(runs)], { stdout: "ignore", stderr: "ignore" });
    const store = new RunStore(runs);
    const started = () => store.list().some((id) => existsSync(join(runs, id, "work", "checkpoint.ckpt")));
    while (!started()) await Bun.sleep(20);
    process.kill(-proc.pid, "SIGKILL");
    await proc.exited;
    const doneBefore = store.list().filter((id) => store.isDone(id)).length;
    expect(doneBefore).toBeLessThan(3);
    expect(Bun.spawnSync(args(runs), { stdout: "ignore", stderr: "ignore" }).exitCode).toBe(0);
    const ids = store.list().sort();
    expect(ids).toEqual(new RunStore(cleanRuns).list().sort());
    for (const id of ids) expect(outcomeOf(store.result(id))).toEqual(outcomeOf(new RunStore(cleanRuns).result(id)));
  }, 180_000);

  test("Ctrl-C stops the workers, releases their locks, exits 130; the next run resumes", async () => {
    const runs = tempRuns();
    const args = [
      process.execPath,
      join(REPO, "src/cli/train.ts"),
      "--preset",
      "smoke",
      "--seeds",
      "8,9",
      "--runs-dir",
      runs,
      "--jobs",
      "2",
      "--threads-per-job",
      "1",
      "--report-dir",
      "/nonexistent",
      "--set",
      "data.trainLimit=128",
      "--set",
      "optim.epochs=20",
      "--set",
      "engine.provider=cpu",
    ];
    const proc = Bun.spawn(args, { stdout: "ignore", stderr: "pipe" });
    const store = new RunStore(runs);
    while (!store.list().some((id) => existsSync(join(runs, id, "work", "checkpoint.ckpt")))) await Bun.sleep(20);
    proc.kill("SIGINT");
    expect(await proc.exited).toBe(130);
    expect(await new Response(proc.stderr).text()).toContain("run the same command again to resume");
    for (const id of store.list()) expect(existsSync(join(runs, id, "lock"))).toBe(false);
    expect(Bun.spawnSync(args, { stdout: "ignore", stderr: "ignore" }).exitCode).toBe(0);
    expect(store.list().every((id) => store.isDone(id))).toBe(true);
  }, 90_000);
});

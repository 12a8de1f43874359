import { expect, test } from "bun:test";
import { join } from "node:path";
import { runUnits } from "../../src/runner/run-units.ts";
import { RunStore } from "../../src/runner/store.ts";
import { REPO, runner, tempRuns, unit } from "./helpers.ts";

const quiet = { reportDir: "/nonexistent", log: () => {}, progress: false };

test("a unit killed mid-way and resumed reports the time of both attempts in wallSeconds", async () => {
  const runs = tempRuns();
  const store = new RunStore(runs);
  const steps = 20,
    stepMs = 100;
  const u = unit("ticks", { steps, stepMs });
  store.plan(u);
  const worker = Bun.spawn([process.execPath, join(REPO, "src/runner/worker.ts"), "--runs-dir", runs, "--unit", u.id, "--threads", "1"], {
    stdout: "ignore",
    stderr: "ignore",
    env: process.env,
  });
  // Half the steps reported: the first attempt has run (and saved) at least half the sleep.
  const half = steps / 2;
  while ((store.progress(u.id)?.done ?? 0) < half && worker.exitCode === null) await Bun.sleep(20);
  expect(worker.exitCode).toBeNull();
  worker.kill("SIGKILL");
  await worker.exited;
  expect(store.isDone(u.id)).toBe(false);
  const out = await runUnits([u], runner(runs), quiet);
  const r = out!.records.get(u.id)!;
  expect(r.attempts).toBe(2);
  const [first, second] = r.attemptSeconds!;
  expect(r.attemptSeconds!.length).toBe(2);
  expect(first!).toBeGreaterThanOrEqual((half * stepMs) / 1000);
  // The resumed attempt starts over (the fixture keeps no checkpoint): all the steps.
  expect(second!).toBeGreaterThanOrEqual((steps * stepMs) / 1000);
  expect(r.wallSeconds).toBeCloseTo(first! + second!, 6);
  expect(r.wallSeconds).toBeGreaterThanOrEqual(((half + steps) * stepMs) / 1000);
}, 60_000);

test("an uninterrupted unit's wallSeconds is its one attempt's time", async () => {
  const u = unit("ticks", { steps: 3, stepMs: 50 });
  const out = await runUnits([u], runner(tempRuns()), quiet);
  const r = out!.records.get(u.id)!;
  expect(r.attempts).toBe(1);
  expect(r.attemptSeconds).toEqual([r.wallSeconds]);
  expect(r.wallSeconds).toBeGreaterThanOrEqual(0.15);
}, 60_000);

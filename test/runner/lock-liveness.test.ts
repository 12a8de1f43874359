import { expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { runLocalPool, type PoolEvent } from "../../src/runner/local-pool.ts";
import { processStart, RunStore } from "../../src/runner/store.ts";
import { REPO, tempRuns, unit } from "./helpers.ts";

// Steps that block the worker's event loop (as the torch engine's synchronous reads do)
// for 3 s in all, against a stale-lock limit of 1 s.
const STALE_S = 1;
const blocking = () => unit("blocks", { steps: 15, stepMs: 200 });

function startWorker(runs: string, id: string) {
  return Bun.spawn(
    [process.execPath, join(REPO, "src/runner/worker.ts"), "--runs-dir", runs, "--unit", id, "--threads", "1", "--stale-lock-seconds", String(STALE_S)],
    {
      stdout: "ignore",
      stderr: "pipe",
      // Explicit: Bun.spawn does not pass on variables set in process.env at run time (helpers.ts sets the fixture kinds').
      env: { ...process.env },
    },
  );
}

async function untilLocked(store: RunStore, id: string): Promise<void> {
  const path = join(store.dir(id), "lock");
  for (let i = 0; i < 800 && !existsSync(path); i++) await Bun.sleep(25);
  expect(existsSync(path)).toBe(true);
}

test("a unit whose steps block the event loop past staleLockSeconds is trained once; a second runner waits for it", async () => {
  const runs = tempRuns();
  const store = new RunStore(runs, STALE_S);
  const u = blocking();
  store.plan(u);
  const first = startWorker(runs, u.id);
  await untilLocked(store, u.id);
  // Past the stale limit, while the first runner's unit is still blocked in a step.
  await Bun.sleep(1500);
  const events: PoolEvent[] = [];
  const states = await runLocalPool([u], store, {
    jobs: 1,
    threadsPerJob: 1,
    maxAttempts: 3,
    staleLockSeconds: STALE_S,
    lockPollMs: 200,
    onEvent: (e) => events.push(e),
  });
  expect(await first.exited).toBe(0);
  expect(states.get(u.id)).toBe("done");
  expect(readFileSync(join(store.dir(u.id), "attempts"), "utf8")).toBe("1");
  expect(store.result(u.id)!.metrics.pid).toBe(first.pid);
  const waiting = events.find((e) => e.unit?.state === "waiting");
  expect(waiting?.unit?.detail).toContain(`in progress elsewhere (pid ${first.pid} on `);
}, 30_000);

test("a lock from another host stays fresh while its unit's steps block the event loop, and is not taken over", async () => {
  const runs = tempRuns();
  const store = new RunStore(runs, STALE_S);
  const u = blocking();
  store.plan(u);
  const worker = startWorker(runs, u.id);
  await untilLocked(store, u.id);
  const path = join(store.dir(u.id), "lock");
  // Seen from here, the holder is on another host: only its heartbeat tells that it lives.
  const info = JSON.parse(readFileSync(path, "utf8"));
  writeFileSync(path, JSON.stringify({ ...info, host: "another-host" }));
  let oldest = 0;
  const until = Date.now() + 2500;
  while (Date.now() < until && existsSync(path)) {
    try {
      oldest = Math.max(oldest, Date.now() - statSync(path).mtimeMs);
    } catch {}
    expect(store.lock(u.id).acquired).toBe(false);
    await Bun.sleep(100);
  }
  expect(oldest).toBeLessThan(STALE_S * 1000);
  expect(await worker.exited).toBe(0);
  expect(store.attempts(u.id)).toBe(1);
}, 30_000);

test("a lock whose holder is alive on this host is never taken over, however old its heartbeat; a reused pid is not its holder", () => {
  const store = new RunStore(tempRuns(), STALE_S);
  const u = unit("echo", { value: 11 });
  mkdirSync(store.dir(u.id), { recursive: true });
  const path = join(store.dir(u.id), "lock");
  const alive = Bun.spawn(["sleep", "30"]);
  try {
    const holder = { pid: alive.pid, host: hostname(), startedAt: "2026-01-01T00:00:00.000Z", pidStart: processStart(alive.pid) ?? undefined };
    writeFileSync(path, JSON.stringify(holder));
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(path, old, old);
    expect(store.lock(u.id).acquired).toBe(false);
    expect(store.liveHolder(u.id)?.pid).toBe(alive.pid);
    // The same pid, started at another time: a different process that reused the number.
    if (holder.pidStart !== undefined) {
      writeFileSync(path, JSON.stringify({ ...holder, pidStart: "1" }));
      const taken = store.lock(u.id);
      expect(taken.acquired).toBe(true);
      if (taken.acquired) taken.release();
    }
  } finally {
    alive.kill();
  }
});

import { expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { RunStore } from "../../src/runner/store.ts";
import { tempRuns, unit } from "./helpers.ts";

// Processes that take and drop one unit's lock as fast as they can: a lock file that
// another process can see before its holder is written (and so judge unreadable, hence
// stale, and take over) lets two of them hold it at once. CI caught two runners each
// running the same unit this way.
async function contend(mode: "release" | "plant-dead") {
  const runs = tempRuns();
  const u = unit("echo", { value: 1 });
  const store = new RunStore(runs);
  store.plan(u);
  const procs = [0, 1, 2, 3].map(() =>
    Bun.spawn([process.execPath, join(import.meta.dir, "fixture-lock-contender.ts"), runs, u.id, "2500", mode], { stdout: "pipe", stderr: "inherit" }),
  );
  const outs = await Promise.all(procs.map(async (p) => JSON.parse(await new Response(p.stdout).text()) as { held: number; overlaps: number }));
  // Every contender got the lock many times: the check had something to check.
  for (const o of outs) expect(o.held).toBeGreaterThan(20);
  expect(outs.map((o) => o.overlaps)).toEqual([0, 0, 0, 0]);
  // The private files a lock is made from, and the takeover lock, are all cleaned up.
  expect(readdirSync(store.dir(u.id)).filter((f) => f.startsWith("lock."))).toEqual([]);
}

test("a unit's lock is held by one process at a time, under contention from four", () => contend("release"), 30_000);

// Runners that all find a dead holder's lock and judge it stale: one takes it over;
// the slower ones must not delete the lock the first has just made.
test("a dead holder's lock is taken over by one contender at a time", () => contend("plant-dead"), 30_000);

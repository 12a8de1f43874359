/**
 * One contender in the lock test (lock-exclusion.test.ts): for the given time it takes
 * the unit's lock again and again; while it holds it, it creates a marker file with
 * O_EXCL, which fails exactly when another process holds the lock at the same moment.
 * Prints how many times it held the lock and how many of those overlapped another holder.
 * With "plant-dead", every other time it lets go it leaves a lock that a dead process
 * holds in its place, as a crashed runner would, so the others race to take it over.
 */
import { closeSync, linkSync, openSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { RunStore } from "../../src/runner/store.ts";

const [runs, id, ms, mode] = process.argv.slice(2);
const store = new RunStore(runs!);
const marker = join(store.dir(id!), "holder");
let held = 0,
  overlaps = 0;
const until = Date.now() + Number(ms);
while (Date.now() < until) {
  const lock = store.lock(id!);
  if (!lock.acquired) continue;
  held++;
  try {
    closeSync(openSync(marker, "wx"));
    Bun.sleepSync(1);
    rmSync(marker);
  } catch {
    overlaps++;
  }
  lock.release();
  if (mode === "plant-dead" && held % 2 === 0) {
    // Above Linux's largest pid (2^22): never a live process.
    const dead = JSON.stringify({ pid: 4_194_305, host: hostname(), startedAt: new Date().toISOString() });
    const tmp = `${marker}.dead.${process.pid}`;
    writeFileSync(tmp, dead);
    try {
      linkSync(tmp, join(store.dir(id!), "lock"));
    } catch {
      // Another contender holds it now.
    }
    rmSync(tmp);
  }
}
console.log(JSON.stringify({ held, overlaps }));

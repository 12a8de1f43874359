import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { UnitRecord } from "../../src/config/generated/record.ts";
import { RunStore } from "../../src/runner/store.ts";
import { tempRuns, unit } from "./helpers.ts";

function record(id: string): UnitRecord {
  return {
    unitId: id,
    kind: "echo",
    status: "done",
    config: { value: 1 },
    deps: [],
    env: { engine: "none", provider: "none", threads: 1, host: "h", commit: "c", runtime: {} },
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:00:01.000Z",
    wallSeconds: 1,
    metrics: { value: 1 },
  };
}

describe("run store", () => {
  test("a unit is complete only once its record and done marker are written", () => {
    const store = new RunStore(tempRuns());
    const u = unit("echo", { value: 1 });
    store.plan(u);
    expect(store.isDone(u.id)).toBe(false);
    store.complete(record(u.id));
    expect(store.result(u.id)?.metrics).toEqual({ value: 1 });
    expect(store.readUnit(u.id)).toEqual(JSON.parse(JSON.stringify(u)));
  });

  test("a corrupted or truncated result is detected and the unit counts as not done", () => {
    const store = new RunStore(tempRuns());
    const u = unit("echo", { value: 2 });
    store.plan(u);
    store.complete(record(u.id));
    const p = join(store.dir(u.id), "result.json");
    writeFileSync(p, readFileSync(p, "utf8").replace('"value": 1', '"value": 7'));
    expect(store.isDone(u.id)).toBe(false);
    expect(existsSync(join(store.dir(u.id), "done.json"))).toBe(false);
    store.complete(record(u.id));
    writeFileSync(p, readFileSync(p).subarray(0, 40));
    expect(store.result(u.id)).toBeNull();
  });

  test("a record that breaks the record schema is refused", () => {
    const store = new RunStore(tempRuns());
    expect(() => store.complete({ ...record("echo-0123456789ab"), status: "weird" as never })).toThrow(/status/);
  });

  test("a live lock is respected; a dead process's lock and a stale heartbeat are taken over", () => {
    const store = new RunStore(tempRuns(), 10);
    const u = unit("echo", { value: 3 });
    const first = store.lock(u.id);
    expect(first.acquired).toBe(true);
    const second = store.lock(u.id);
    expect(second.acquired).toBe(false);
    if (!second.acquired) expect(second.holder?.pid).toBe(process.pid);
    if (first.acquired) first.release();

    // A lock left by a process that no longer exists on this host.
    const dead = Bun.spawnSync(["true"]).pid;
    mkdirSync(store.dir(u.id), { recursive: true });
    writeFileSync(join(store.dir(u.id), "lock"), JSON.stringify({ pid: dead, host: hostname(), startedAt: "x" }));
    const third = store.lock(u.id);
    expect(third.acquired).toBe(true);
    if (third.acquired) third.release();

    // A lock from another host whose heartbeat stopped long ago.
    const lockPath = join(store.dir(u.id), "lock");
    writeFileSync(lockPath, JSON.stringify({ pid: 1, host: "elsewhere", startedAt: "x" }));
    expect(store.lock(u.id).acquired).toBe(false);
    const old = new Date(Date.now() - 60_000);
    utimesSync(lockPath, old, old);
    expect(store.lock(u.id).acquired).toBe(true);
  });
});

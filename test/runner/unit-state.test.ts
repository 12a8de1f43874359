/** The local pool's state machine: what a worker's exit makes of its unit, transition by transition. */
import { expect, test } from "bun:test";
import { EXIT } from "../../src/runner/exit-codes.ts";
import type { LockInfo } from "../../src/runner/store.ts";
import { afterPackWorker, afterWorker, type StoreFacts } from "../../src/runner/unit-state.ts";

const holder: LockInfo = { pid: 12, host: "node7", startedAt: "2026-01-01T00:00:00Z" } as LockInfo;
const facts = (o: Partial<StoreFacts & { failureText: string; kind: string; holder: LockInfo; live: LockInfo }> = {}) => ({
  done: o.done ?? false,
  attempts: o.attempts ?? 1,
  failure: () => (o.failureText ? { error: `${o.failureText}\nstack`, kind: o.kind } : null),
  lockHolder: () => o.holder ?? null,
  liveHolder: () => o.live ?? null,
});
const single = (exitCode: number | undefined, store = facts(), more: Partial<Parameters<typeof afterWorker>[0]> = {}) =>
  afterWorker({ id: "u", exitCode, store, maxAttempts: 3, redo: [], gpu: undefined, sharing: 0, log: "runs/u/worker.log", ...more });

test("a single unit's worker: done, done elsewhere, locked, failed, retried", () => {
  expect(single(EXIT.done, facts({ done: true }))).toEqual({ state: "done" });
  // Exit 0 without a result in the store is not done: an attempt failed.
  expect(single(EXIT.done, facts({ done: false }))).toEqual({ state: "pending", detail: "attempt failed (0); retrying" });
  expect(single(EXIT.alreadyDone, facts({ done: true }))).toEqual({ state: "done", detail: "completed by another runner" });
  expect(single(EXIT.locked, facts({ holder }))).toEqual({
    state: "waiting",
    detail: "in progress elsewhere (pid 12 on node7 since 2026-01-01T00:00:00Z); waiting for it",
    waitFromNow: true,
  });
  expect(single(EXIT.locked).detail).toBe("in progress elsewhere");
  // Bad input fails at once, with the failure's first line; a crash fails only with no attempts left.
  expect(single(EXIT.badInput, facts({ attempts: 1, failureText: "bad setting x" }))).toEqual({ state: "failed", detail: "bad setting x" });
  expect(single(EXIT.failed, facts({ attempts: 2 }))).toEqual({ state: "pending", detail: "attempt failed (1); retrying" });
  expect(single(EXIT.failed, facts({ attempts: 3 }))).toEqual({ state: "failed", detail: "worker exited with 1; see runs/u/worker.log" });
  expect(single(undefined, facts({ attempts: 3 }), { signal: "SIGKILL" })).toEqual({
    state: "failed",
    detail: "worker exited with SIGKILL; see runs/u/worker.log",
  });
});

test("a damaged dependency is recomputed first; a CUDA out-of-memory while sharing retries with fewer on that GPU", () => {
  expect(single(EXIT.depsMissing, facts(), { redo: ["dense"] })).toEqual({
    state: "pending",
    detail: "a dependency is recomputed first",
    recompute: ["dense"],
  });
  // Already recomputed once (redo empty): an ordinary failed attempt.
  expect(single(EXIT.depsMissing, facts({ attempts: 1 })).state).toBe("pending");
  const oom = single(EXIT.cudaOom, facts({ attempts: 1 }), { gpu: "0", sharing: 3 });
  expect([oom.state, oom.capGpu]).toEqual(["pending", { gpu: "0", workers: 2 }]);
  const alone = single(EXIT.cudaOom, facts({ attempts: 1 }), { gpu: "0", sharing: 1 });
  expect([alone.state, alone.capGpu]).toEqual(["failed", undefined]);
});

test("a pack member: done, left out (waiting when held elsewhere), its own permanent failure, retried, out of attempts", () => {
  const member = (store: ReturnType<typeof facts>, attemptsAtStart = 0) =>
    afterPackWorker({ exitCode: 1, attemptsAtStart, store, maxAttempts: 3, log: "runs/p/worker.log" });
  expect(member(facts({ done: true }))).toEqual({ state: "done" });
  expect(member(facts({ attempts: 1 }), 1)).toEqual({ state: "pending", detail: "left out of its pack (worker exit 1); it runs again" });
  expect(member(facts({ attempts: 1, live: holder }), 1)).toEqual({
    state: "waiting",
    detail: "in progress elsewhere (pid 12 on node7 since 2026-01-01T00:00:00Z); waiting for it",
    waitFromNow: true,
  });
  expect(member(facts({ attempts: 1, failureText: "NaN loss", kind: "permanent" }))).toEqual({ state: "failed", detail: "NaN loss" });
  expect(member(facts({ attempts: 1, failureText: "killed" }))).toEqual({
    state: "pending",
    detail: "pack attempt failed (1); retrying (log: runs/p/worker.log)",
  });
  expect(member(facts({ attempts: 3 }), 2)).toEqual({ state: "failed", detail: "pack worker exited with 1; see runs/p/worker.log" });
});

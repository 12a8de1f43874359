/**
 * A unit's state in the local pool, and the pool's state machine: what a worker's exit
 * (its code, and what the store then holds) makes of the unit it ran, or of each member
 * of the pack it ran. Pure functions of those facts, so every transition is testable
 * without processes.
 */
import type { LockInfo } from "./store.ts";
import { EXIT } from "./exit-codes.ts";
import { cudaOomStep } from "./gpu-slots.ts";

export type UnitState = "pending" | "running" | "done" | "failed" | "blocked" | "waiting";

/** The next state, why, and what else changes. */
export interface Step {
  state: UnitState;
  detail?: string;
  /** Waiting for another runner: poll it again from now. */
  waitFromNow?: true;
  /** Dependencies whose outputs were damaged: recompute them first. */
  recompute?: string[];
  /** After a CUDA out-of-memory: at most this many workers on `gpu` from now on. */
  capGpu?: { gpu: string; workers: number };
}

/** The pool's word for a unit another runner is training. */
export function heldElsewhere(h: LockInfo): string {
  return `in progress elsewhere (pid ${h.pid} on ${h.host} since ${h.startedAt}); waiting for it`;
}

/** What the store says of a unit after its worker ended (read when needed). */
export interface StoreFacts {
  done: boolean;
  attempts: number;
  failure(): { error: string; kind?: string } | null;
  lockHolder(): LockInfo | null;
}

/**
 * A worker that ran one unit ended with `exitCode` (or `signal`). In order: a dependency
 * found damaged is recomputed first (once per run: `redo` holds those not yet redone); a
 * CUDA out-of-memory retries with fewer workers on its GPU or fails (cudaOomStep); done;
 * done by another runner; locked by another runner (wait); bad input or no attempts left
 * (failed); otherwise pending, to retry.
 */
export function afterWorker(o: {
  id: string;
  exitCode: number | undefined;
  signal?: string;
  store: StoreFacts;
  maxAttempts: number;
  redo: string[];
  gpu: string | undefined;
  sharing: number;
  log: string;
}): Step {
  const { exitCode, store } = o;
  if (o.redo.length) return { state: "pending", detail: "a dependency is recomputed first", recompute: o.redo };
  if (exitCode === EXIT.cudaOom) {
    const out = cudaOomStep(o.id, o.gpu, o.sharing, store.attempts >= o.maxAttempts);
    return {
      state: out.retry ? "pending" : "failed",
      detail: out.detail,
      ...(out.cap !== undefined && o.gpu !== undefined ? { capGpu: { gpu: o.gpu, workers: out.cap } } : {}),
    };
  }
  if (exitCode === EXIT.done && store.done) return { state: "done" };
  if (exitCode === EXIT.alreadyDone && store.done) return { state: "done", detail: "completed by another runner" };
  if (exitCode === EXIT.locked) {
    const holder = store.lockHolder();
    return { state: "waiting", detail: holder ? heldElsewhere(holder) : "in progress elsewhere", waitFromNow: true };
  }
  if (exitCode === EXIT.badInput || store.attempts >= o.maxAttempts)
    return { state: "failed", detail: store.failure()?.error.split("\n")[0] ?? `worker exited with ${exitCode ?? o.signal}; see ${o.log}` };
  return { state: "pending", detail: `attempt failed (${exitCode ?? o.signal}); retrying` };
}

/**
 * A member of a pack whose worker ended: done; not attempted (its worker left it out:
 * waiting when another runner holds it, else pending); its own permanent failure or no
 * attempts left (failed); otherwise pending, to retry.
 */
export function afterPackWorker(o: {
  exitCode: number | undefined;
  attemptsAtStart: number;
  store: StoreFacts & { liveHolder(): LockInfo | null };
  maxAttempts: number;
  log: string;
}): Step {
  const { store, exitCode } = o;
  if (store.done) return { state: "done" };
  const failure = store.failure();
  if (store.attempts <= o.attemptsAtStart) {
    const holder = store.liveHolder();
    if (holder) return { state: "waiting", detail: heldElsewhere(holder), waitFromNow: true };
    return { state: "pending", detail: `left out of its pack (worker exit ${exitCode}); it runs again` };
  }
  if (failure?.kind === "permanent" || store.attempts >= o.maxAttempts)
    return { state: "failed", detail: failure?.error.split("\n")[0] ?? `pack worker exited with ${exitCode}; see ${o.log}` };
  return { state: "pending", detail: `pack attempt failed (${exitCode}); retrying (log: ${o.log})` };
}

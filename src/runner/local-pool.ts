import { execa, type ResultPromise } from "execa";
import { mkdirSync, rmSync } from "node:fs";
import { availableParallelism, hostname } from "node:os";
import { join } from "node:path";
import type { RunStore } from "./store.ts";
import type { Unit } from "./unit.ts";
import { EXIT } from "./exit-codes.ts";
import { replyTimeoutFlag } from "./worker-flags.ts";
import { packWith } from "./packing.ts";
import type { ReplyLimits } from "../engine/torch/torch-process.ts";
import { GpuSlots } from "./gpu-slots.ts";
import { afterPackWorker, afterWorker, heldElsewhere, type Step, type UnitState } from "./unit-state.ts";

export { cudaOomStep, gpuEnv, pickGpu } from "./gpu-slots.ts";
export { heldElsewhere, type UnitState } from "./unit-state.ts";

export interface PoolEvent {
  done: number;
  running: number;
  failed: number;
  blocked: number;
  total: number;
  /** Set when a unit changes state. */
  unit?: { id: string; label?: string; state: UnitState; detail?: string };
}

export interface PoolOptions {
  jobs: number;
  /**
   * Engine threads per worker; "auto" gives each new worker cores / (units that can
   * run now, at most jobs), so a lone unit (a dense run the grid waits for) gets the
   * whole machine.
   */
  threadsPerJob: number | "auto";
  cores?: number;
  maxAttempts: number;
  staleLockSeconds: number;
  onEvent?: (e: PoolEvent) => void;
  /** How long to wait before re-checking a unit another runner holds (ms). */
  lockPollMs?: number;
  /**
   * CUDA device indices to place workers on, at most `jobsPerGpu` workers each: a worker
   * gets the least busy one as its only visible GPU (CUDA_VISIBLE_DEVICES). Empty or
   * absent: workers inherit the environment.
   */
  gpus?: string[];
  jobsPerGpu?: number;
  /** The torch engine's watchdog, passed to every worker (runner.replyTimeout). */
  replyTimeout?: ReplyLimits;
  /**
   * Units per worker (runner.pack, resolved): ready units of one pack key (UnitKind.packKey)
   * start together in one worker, which trains them as one pack. 1 or absent: one unit each.
   */
  pack?: number;
  /** Each unit's pack key; absent or null: trains alone. */
  packKeys?: ReadonlyMap<string, string | null>;
}

export class Interrupted extends Error {
  override name = "Interrupted";
}

const WORKER = join(import.meta.dir, "worker.ts");

/** Starts a worker process for `members` (one unit, or a pack's), logging to the first one's worker.log. */
function spawnWorker(store: RunStore, members: string[], o: PoolOptions & { threads: number; env: Record<string, string> }): ResultPromise {
  const logPath = join(store.dir(members[0]!), "worker.log");
  mkdirSync(store.dir(members[0]!), { recursive: true });
  return execa(
    process.execPath,
    [
      WORKER,
      "--runs-dir",
      store.root,
      "--unit",
      members.join(","),
      "--threads",
      String(o.threads),
      "--stale-lock-seconds",
      String(o.staleLockSeconds),
      "--signal-reuse",
      ...(o.replyTimeout ? replyTimeoutFlag(o.replyTimeout) : []),
    ],
    {
      reject: false,
      stdin: "ignore",
      stdout: { file: logPath, append: true },
      stderr: { file: logPath, append: true },
      // Workers get the terminal's Ctrl-C themselves; this process forwards SIGTERM too.
      cleanup: true,
      env: o.env,
    },
  );
}

/** Engine threads for a new worker: "auto" shares the cores among the workers that can run now (at most jobs). */
function threadsFor(o: PoolOptions, runnable: number): number {
  if (o.threadsPerJob !== "auto") return o.threadsPerJob;
  return Math.max(1, Math.floor((o.cores ?? availableParallelism()) / Math.max(1, Math.min(o.jobs, runnable))));
}

/**
 * Runs units in worker processes, at most `jobs` at once, each after its dependencies.
 * A worker that dies (killed, crashed) leaves its checkpoint; the unit is retried up to
 * maxAttempts, then reported failed and its dependents blocked. Units locked by another
 * runner (a second terminal, a Slurm task) are waited for, not duplicated. Ctrl-C stops
 * the workers, which release their locks, and throws Interrupted: run again to resume.
 * Scheduling is here; GPU placement in gpu-slots.ts, what a worker's exit makes of its
 * units in unit-state.ts, the worker itself in worker.ts.
 */
export async function runLocalPool(units: Unit<unknown>[], store: RunStore, o: PoolOptions): Promise<Map<string, UnitState>> {
  const state = new Map<string, UnitState>(units.map((u) => [u.id, store.isDone(u.id) ? "done" : "pending"]));
  const byId = new Map(units.map((u) => [u.id, u]));
  const running = new Map<string, ResultPromise>();
  /** A worker's units, by its first: one, or a pack's members. */
  const membersOf = new Map<string, string[]>();
  /** Attempts each member of a running pack had when it started (a member its worker left out used none). */
  const attemptsAtStart = new Map<string, number>();
  const packSize = Math.max(1, o.pack ?? 1);
  const slots = new GpuSlots(o.gpus ?? [], o.jobsPerGpu ?? 1);
  const checkCache = join(store.root, ".device-checks", `${hostname()}-${process.pid}-${Date.now()}`);
  const waitingSince = new Map<string, number>();
  // Dependencies recomputed in this run because a dependent found their outputs damaged (once each).
  const recomputed = new Set<string>();
  let interrupted = false;

  const counts = (): PoolEvent => {
    const v = [...state.values()];
    return {
      done: v.filter((s) => s === "done").length,
      running: running.size,
      failed: v.filter((s) => s === "failed").length,
      blocked: v.filter((s) => s === "blocked").length,
      total: units.length,
    };
  };
  const set = (id: string, s: UnitState, detail?: string) => {
    state.set(id, s);
    o.onEvent?.({ ...counts(), unit: { id, label: byId.get(id)?.label, state: s, detail } });
  };
  const apply = (id: string, step: Step) => {
    for (const d of step.recompute ?? []) {
      recomputed.add(d);
      set(d, "pending", "its output was damaged; recomputing it");
    }
    if (step.capGpu) slots.cap(step.capGpu.gpu, step.capGpu.workers);
    if (step.waitFromNow) waitingSince.set(id, Date.now());
    set(id, step.state, step.detail);
  };
  const depState = (u: Unit<unknown>): "ready" | "wait" | "blocked" => {
    let ready = true;
    for (const d of u.deps) {
      const s = state.get(d) ?? (store.isDone(d) ? "done" : "blocked");
      if (s === "failed" || s === "blocked") return "blocked";
      if (s !== "done") ready = false;
    }
    return ready ? "ready" : "wait";
  };
  const storeFacts = (id: string) => ({
    done: store.isDone(id),
    attempts: store.attempts(id),
    failure: () => store.failure(id),
    lockHolder: () => store.lockHolder(id),
    liveHolder: () => store.liveHolder(id),
  });

  /** Starts workers for the units that can run now, up to `jobs` (and the GPUs' slots). */
  const startWorkers = () => {
    for (const u of units) {
      if (running.size >= o.jobs) break;
      const s = state.get(u.id)!;
      if (s === "waiting" && Date.now() - (waitingSince.get(u.id) ?? 0) < (o.lockPollMs ?? 2000)) continue;
      if (s !== "pending" && s !== "waiting") continue;
      const d = depState(u);
      if (d === "blocked") {
        set(u.id, "blocked", "a dependency failed");
        continue;
      }
      if (d === "wait") continue;
      // Held by a live runner elsewhere (a second terminal, a Slurm task): wait, start nothing.
      const holder = store.liveHolder(u.id);
      if (holder) {
        waitingSince.set(u.id, Date.now());
        if (s !== "waiting") set(u.id, "waiting", heldElsewhere(holder));
        continue;
      }
      const startable = (v: Unit<unknown>) => (state.get(v.id) === "pending" || state.get(v.id) === "waiting") && depState(v) === "ready";
      // Workers that can run now: those running, and the ready units in packs.
      const threads = threadsFor(o, running.size + Math.ceil(units.filter(startable).length / packSize));
      // Ready units of the same pack key join this one (those another runner holds stay out).
      const members = packWith(
        u,
        units,
        packSize,
        o.packKeys ?? new Map(),
        (v) => state.get(v.id) === "pending" && depState(v) === "ready" && !store.liveHolder(v.id),
      ).map((v) => v.id);
      const gpu = slots.placing ? slots.pick() : null;
      if (slots.placing && gpu === null) break;
      // Workers of one device slot probe and check their device once between them (check-cache.ts).
      const env = { PRUNING_HARNESS_CHECK_CACHE: join(checkCache, gpu ?? "any"), ...(gpu !== null ? slots.env(gpu) : {}) };
      running.set(u.id, spawnWorker(store, members, { ...o, threads, env }));
      membersOf.set(u.id, members);
      if (members.length > 1) for (const m of members) attemptsAtStart.set(m, store.attempts(m));
      if (gpu !== null) slots.take(u.id, gpu);
      for (const m of members) set(m, "running", members.length > 1 ? `in a pack of ${members.length}` : undefined);
    }
  };

  /** What a worker's exit makes of its unit, or of each member of its pack. */
  const settle = (id: string, exitCode: number | undefined, signal: string | undefined, placed: { gpu: string | undefined; sharing: number }) => {
    const members = membersOf.get(id) ?? [id];
    membersOf.delete(id);
    // A pack's worker logged to its first member's worker.log.
    const log = join(store.dir(id), "worker.log");
    if (members.length > 1) {
      for (const m of members) {
        const attemptsBefore = attemptsAtStart.get(m) ?? 0;
        attemptsAtStart.delete(m);
        apply(m, afterPackWorker({ exitCode, attemptsAtStart: attemptsBefore, store: storeFacts(m), maxAttempts: o.maxAttempts, log }));
      }
      return;
    }
    const redo = exitCode === EXIT.depsMissing ? byId.get(id)!.deps.filter((d) => state.get(d) === "done" && !recomputed.has(d) && !store.isDone(d)) : [];
    apply(id, afterWorker({ id, exitCode, signal, store: storeFacts(id), maxAttempts: o.maxAttempts, redo, ...placed, log }));
  };

  const onSigint = () => {
    interrupted = true;
    for (const child of running.values()) child.kill("SIGTERM");
  };
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);
  o.onEvent?.(counts());
  try {
    while (!interrupted) {
      startWorkers();
      if (running.size === 0) {
        const left = [...state.entries()].filter(([, s]) => s === "pending" || s === "waiting");
        if (left.length === 0) break;
        // Only units held by other runners remain: poll until their results appear.
        await Bun.sleep(o.lockPollMs ?? 2000);
        for (const [id] of left) if (store.isDone(id)) set(id, "done");
        continue;
      }
      const [id, r] = await Promise.race([...running].map(([id, c]) => c.then((r) => [id, r] as const)));
      running.delete(id);
      const placed = slots.release(id);
      if (interrupted) break;
      settle(id, r.exitCode ?? undefined, r.signal ?? undefined, placed);
    }
    if (interrupted) {
      await Promise.allSettled(running.values());
      throw new Interrupted("interrupted: workers stopped and their locks released; run the same command again to resume");
    }
    return state;
  } finally {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
    rmSync(checkCache, { recursive: true, force: true });
  }
}

import { execa, type ResultPromise } from "execa";
import { ConfigError } from "../config/load.ts";
import { mkdirSync, rmSync } from "node:fs";
import { availableParallelism, hostname } from "node:os";
import { join } from "node:path";
import type { LockInfo, RunStore } from "./store.ts";
import type { Unit } from "./unit.ts";
import { EXIT, replyTimeoutFlag } from "./worker.ts";
import { packWith } from "./packing.ts";
import type { ReplyLimits } from "../engine/torch/torch-process.ts";

export type UnitState = "pending" | "running" | "done" | "failed" | "blocked" | "waiting";

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

/**
 * The environment of a worker placed on GPU `gpu`, a --gpus number. Under a scheduler
 * that already restricted the visible GPUs (CUDA_VISIBLE_DEVICES set), --gpus numbers
 * index into that list, so a worker never gets a device the job was not given (the
 * list's entries pass through as they are: indices, UUIDs or MIG ids, in the order the
 * scheduler meant). Otherwise --gpus numbers are nvidia-smi's, which are PCI bus order:
 * CUDA is told to number them the same way (its default puts the fastest first).
 */
export function gpuEnv(gpu: string, env: Record<string, string | undefined> = process.env): Record<string, string> {
  const inherited = env.CUDA_VISIBLE_DEVICES;
  // The worker then refuses to train on the CPU (device-error.ts).
  const required = { PRUNING_HARNESS_GPU_REQUIRED: "--gpus" };
  if (inherited === undefined) return { CUDA_VISIBLE_DEVICES: gpu, CUDA_DEVICE_ORDER: "PCI_BUS_ID", ...required };
  const visible = inherited
    .split(",")
    .map((d) => d.trim())
    .filter(Boolean);
  const device = visible[Number(gpu)];
  if (device === undefined)
    throw new ConfigError(
      visible.length === 0
        ? `--gpus ${gpu}: this process may use no GPU (CUDA_VISIBLE_DEVICES is empty); leave --gpus out, or run where GPUs are assigned`
        : `--gpus ${gpu}: this job was given ${visible.length} GPU(s) (CUDA_VISIBLE_DEVICES=${inherited}), which --gpus numbers 0..${visible.length - 1}`,
    );
  return { CUDA_VISIBLE_DEVICES: device, ...required };
}

/**
 * The GPU a new worker goes to: the least busy one with a free slot (ties: the first
 * listed), or null when all are full. `caps` lowers a GPU's slots below perGpu (after it
 * ran out of memory).
 */
export function pickGpu(gpus: string[], busy: ReadonlyMap<string, number>, perGpu: number, caps: ReadonlyMap<string, number> = new Map()): string | null {
  let best: string | null = null;
  for (const g of gpus) {
    const n = busy.get(g) ?? 0;
    if (n < Math.min(perGpu, caps.get(g) ?? perGpu) && (best === null || n < (busy.get(best) ?? 0))) best = g;
  }
  return best;
}

/**
 * What the pool does after a unit ran out of GPU memory with `sharing` workers on its
 * GPU (itself included): retry it with fewer workers on that GPU when it shared it;
 * when it had the GPU to itself, fewer jobs cannot help, so fail and say what to change.
 */
export function cudaOomStep(id: string, gpu: string | undefined, sharing: number, attemptsUsed: boolean): { retry: boolean; cap?: number; detail: string } {
  const change = "reduce optim.batchSize or model.width, or use a GPU with more memory";
  if (gpu !== undefined && sharing > 1 && !attemptsUsed)
    return { retry: true, cap: sharing - 1, detail: `CUDA out of memory with ${sharing} units on GPU ${gpu}; retrying with at most ${sharing - 1} there` };
  if (gpu !== undefined && sharing > 1)
    return {
      retry: false,
      detail: `CUDA out of memory with ${sharing} units on GPU ${gpu}, and no attempts left: run fewer at once (--jobs-per-gpu ${sharing - 1}) or ${change}`,
    };
  return {
    retry: false,
    detail: `CUDA out of memory${gpu !== undefined ? ` with GPU ${gpu} to itself` : ""}: ${gpu === undefined ? "run fewer units at once (--jobs), or " : ""}${change} (unit ${id})`,
  };
}

/** The pool's word for a unit another runner is training. */
export function heldElsewhere(h: LockInfo): string {
  return `in progress elsewhere (pid ${h.pid} on ${h.host} since ${h.startedAt}); waiting for it`;
}

export class Interrupted extends Error {
  override name = "Interrupted";
}

const WORKER = join(import.meta.dir, "worker.ts");

/**
 * Runs units in worker processes, at most `jobs` at once, each after its dependencies.
 * A worker that dies (killed, crashed) leaves its checkpoint; the unit is retried up to
 * maxAttempts, then reported failed and its dependents blocked. Units locked by another
 * runner (a second terminal, a Slurm task) are waited for, not duplicated. Ctrl-C stops
 * the workers, which release their locks, and throws Interrupted: run again to resume.
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
  const gpuOf = new Map<string, string>();
  const gpuBusy = new Map<string, number>();
  const gpus = o.gpus ?? [];
  // Worked out once; a --gpus number the job was not given fails here, before any worker starts.
  const envOfGpu = new Map(gpus.map((g) => [g, gpuEnv(g)]));
  const checkCache = join(store.root, ".device-checks", `${hostname()}-${process.pid}-${Date.now()}`);
  const waitingSince = new Map<string, number>();
  // Dependencies recomputed in this run because a dependent found their outputs damaged (once each).
  const recomputed = new Set<string>();
  // GPUs that ran out of memory hold fewer workers from then on (at least one).
  const gpuCap = new Map<string, number>();
  const peakSharing = new Map<string, number>();
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
  const depState = (u: Unit<unknown>): "ready" | "wait" | "blocked" => {
    let ready = true;
    for (const d of u.deps) {
      const s = state.get(d) ?? (store.isDone(d) ? "done" : "blocked");
      if (s === "failed" || s === "blocked") return "blocked";
      if (s !== "done") ready = false;
    }
    return ready ? "ready" : "wait";
  };

  /** A member of a pack whose worker ended: done, failed (its own failure), or back to pending (not attempted, or retrying). */
  const settlePackMember = (m: string, exitCode: number | undefined, logOf: string) => {
    const before = attemptsAtStart.get(m) ?? 0;
    attemptsAtStart.delete(m);
    if (store.isDone(m)) return set(m, "done");
    const attempted = store.attempts(m) > before;
    const failure = store.failure(m);
    if (!attempted) {
      const holder = store.liveHolder(m);
      if (holder) {
        waitingSince.set(m, Date.now());
        return set(m, "waiting", heldElsewhere(holder));
      }
      return set(m, "pending", `left out of its pack (worker exit ${exitCode}); it runs again`);
    }
    if (failure?.kind === "permanent" || store.attempts(m) >= o.maxAttempts)
      return set(m, "failed", failure?.error.split("\n")[0] ?? `pack worker exited with ${exitCode}; see ${logOf}`);
    set(m, "pending", `pack attempt failed (${exitCode}); retrying (log: ${logOf})`);
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
        const runnable = running.size + Math.ceil(units.filter(startable).length / packSize);
        const threads =
          o.threadsPerJob === "auto" ? Math.max(1, Math.floor((o.cores ?? availableParallelism()) / Math.max(1, Math.min(o.jobs, runnable)))) : o.threadsPerJob;
        // Ready units of the same pack key join this one (those another runner holds stay out).
        const members = packWith(
          u,
          units,
          packSize,
          o.packKeys ?? new Map(),
          (v) => state.get(v.id) === "pending" && depState(v) === "ready" && !store.liveHolder(v.id),
        ).map((v) => v.id);
        const gpu = gpus.length ? pickGpu(gpus, gpuBusy, o.jobsPerGpu ?? 1, gpuCap) : null;
        if (gpus.length && gpu === null) break;
        const logPath = join(store.dir(u.id), "worker.log");
        mkdirSync(store.dir(u.id), { recursive: true });
        const child = execa(
          process.execPath,
          [
            WORKER,
            "--runs-dir",
            store.root,
            "--unit",
            members.join(","),
            "--threads",
            String(threads),
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
            // Workers of one device slot probe and check their device once between them (check-cache.ts).
            env: { PRUNING_HARNESS_CHECK_CACHE: join(checkCache, gpu ?? "any"), ...(gpu !== null ? envOfGpu.get(gpu) : {}) },
          },
        );
        running.set(u.id, child);
        membersOf.set(u.id, members);
        if (members.length > 1) for (const m of members) attemptsAtStart.set(m, store.attempts(m));
        if (gpu !== null) {
          gpuOf.set(u.id, gpu);
          gpuBusy.set(gpu, (gpuBusy.get(gpu) ?? 0) + 1);
          for (const [other, g] of gpuOf) if (g === gpu) peakSharing.set(other, Math.max(peakSharing.get(other) ?? 0, gpuBusy.get(gpu)!));
        }
        for (const m of members) set(m, "running", members.length > 1 ? `in a pack of ${members.length}` : undefined);
      }
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
      const freed = gpuOf.get(id);
      // The most workers that shared the GPU with this one while it ran, itself included.
      const sharing = peakSharing.get(id) ?? 0;
      peakSharing.delete(id);
      if (freed !== undefined) {
        gpuOf.delete(id);
        gpuBusy.set(freed, gpuBusy.get(freed)! - 1);
      }
      if (interrupted) break;
      const members = membersOf.get(id) ?? [id];
      membersOf.delete(id);
      if (members.length > 1) {
        // The pack's worker logged to its first member's worker.log.
        for (const m of members) settlePackMember(m, r.exitCode ?? undefined, join(store.dir(id), "worker.log"));
        continue;
      }
      const redo = r.exitCode === EXIT.depsMissing ? byId.get(id)!.deps.filter((d) => state.get(d) === "done" && !recomputed.has(d) && !store.isDone(d)) : [];
      if (redo.length) {
        for (const d of redo) {
          recomputed.add(d);
          set(d, "pending", "its output was damaged; recomputing it");
        }
        set(id, "pending", "a dependency is recomputed first");
      } else if (r.exitCode === EXIT.cudaOom) {
        const out = cudaOomStep(id, freed, sharing, store.attempts(id) >= o.maxAttempts);
        if (out.cap !== undefined) gpuCap.set(freed!, Math.min(out.cap, gpuCap.get(freed!) ?? out.cap));
        set(id, out.retry ? "pending" : "failed", out.detail);
      } else if (r.exitCode === EXIT.done && store.isDone(id)) set(id, "done");
      else if (r.exitCode === EXIT.alreadyDone && store.isDone(id)) set(id, "done", "completed by another runner");
      else if (r.exitCode === EXIT.locked) {
        waitingSince.set(id, Date.now());
        const holder = store.lockHolder(id);
        set(id, "waiting", holder ? heldElsewhere(holder) : "in progress elsewhere");
      } else if (r.exitCode === EXIT.badInput || store.attempts(id) >= o.maxAttempts) {
        set(id, "failed", store.failure(id)?.error.split("\n")[0] ?? `worker exited with ${r.exitCode ?? r.signal}; see ${join(store.dir(id), "worker.log")}`);
      } else {
        set(id, "pending", `attempt failed (${r.exitCode ?? r.signal}); retrying`);
      }
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

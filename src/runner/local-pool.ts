import { execa, type ResultPromise } from "execa";
import { mkdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import type { RunStore } from "./store.ts";
import type { Unit } from "./unit.ts";
import { EXIT } from "./worker.ts";

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
}

/** The GPU a new worker goes to: the least busy one with a free slot (ties: the first listed), or null when all are full. */
export function pickGpu(gpus: string[], busy: ReadonlyMap<string, number>, perGpu: number): string | null {
  let best: string | null = null;
  for (const g of gpus) {
    const n = busy.get(g) ?? 0;
    if (n < perGpu && (best === null || n < (busy.get(best) ?? 0))) best = g;
  }
  return best;
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
  const gpuOf = new Map<string, string>();
  const gpuBusy = new Map<string, number>();
  const gpus = o.gpus ?? [];
  const waitingSince = new Map<string, number>();
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
        const runnable = units.filter(
          (v) => state.get(v.id) === "running" || ((state.get(v.id) === "pending" || state.get(v.id) === "waiting") && depState(v) === "ready"),
        ).length;
        const threads =
          o.threadsPerJob === "auto" ? Math.max(1, Math.floor((o.cores ?? availableParallelism()) / Math.max(1, Math.min(o.jobs, runnable)))) : o.threadsPerJob;
        const gpu = gpus.length ? pickGpu(gpus, gpuBusy, o.jobsPerGpu ?? 1) : null;
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
            u.id,
            "--threads",
            String(threads),
            "--stale-lock-seconds",
            String(o.staleLockSeconds),
            "--signal-reuse",
          ],
          {
            reject: false,
            stdin: "ignore",
            stdout: { file: logPath, append: true },
            stderr: { file: logPath, append: true },
            // Workers get the terminal's Ctrl-C themselves; this process forwards SIGTERM too.
            cleanup: true,
            ...(gpu !== null ? { env: { CUDA_VISIBLE_DEVICES: gpu } } : {}),
          },
        );
        running.set(u.id, child);
        if (gpu !== null) {
          gpuOf.set(u.id, gpu);
          gpuBusy.set(gpu, (gpuBusy.get(gpu) ?? 0) + 1);
        }
        set(u.id, "running");
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
      if (freed !== undefined) {
        gpuOf.delete(id);
        gpuBusy.set(freed, gpuBusy.get(freed)! - 1);
      }
      if (interrupted) break;
      if (r.exitCode === EXIT.done && store.isDone(id)) set(id, "done");
      else if (r.exitCode === EXIT.alreadyDone && store.isDone(id)) set(id, "done", "completed by another runner");
      else if (r.exitCode === EXIT.locked) {
        waitingSince.set(id, Date.now());
        set(id, "waiting", "held by another runner");
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
  }
}

/**
 * What a worker does around a unit's attempt, for one unit and for a pack alike: the
 * signals and the periodic save of its running time while it holds the locks, the
 * context the unit's kind runs with, a failed attempt's record and exit code, and the
 * finished unit's record.
 */
import { hostname } from "node:os";
import type { UnitRecord } from "../config/generated/record.ts";
import { providerChecks } from "../engine/provider-check.ts";
import { trainerFacts } from "../engine/registry.ts";
import { runContext } from "../util/provenance.ts";
import { EXIT } from "./exit-codes.ts";
import { failureKind } from "./failure-kind.ts";
import type { UnitContext, UnitOutcome } from "./kinds/kind.ts";
import type { RunStore } from "./store.ts";
import type { Unit } from "./unit.ts";

/**
 * How often the attempt's running time is saved besides at progress reports: a killed
 * unit that reports no progress loses at most this much of its time from its record.
 * (The lock's heartbeat is a thread of its own: heartbeat.ts.)
 */
const SAVE_ELAPSED_MS = 15_000;

/**
 * While a worker holds its units' locks: the attempts' running time is saved every
 * SAVE_ELAPSED_MS (by the function given to onSave, once the attempts are counted), and
 * Ctrl-C or scancel saves it, drops the locks and exits, so the next run resumes from
 * the last checkpoint. end() drops the locks and the signal handlers.
 */
export function guardAttempt(releaseLocks: () => void): { save(): void; onSave(f: () => void): void; end(): void } {
  let save = () => {};
  const beat = setInterval(() => save(), SAVE_ELAPSED_MS);
  const release = () => {
    clearInterval(beat);
    releaseLocks();
  };
  const onSignal = (sig: NodeJS.Signals) => {
    save();
    release();
    process.exit(sig === "SIGINT" ? 130 : 143);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  return {
    save: () => save(),
    onSave: (f) => void (save = f),
    end: () => {
      release();
      process.removeListener("SIGINT", onSignal);
      process.removeListener("SIGTERM", onSignal);
    },
  };
}

/** What a unit's kind runs with: its folders, its dependencies' results, and progress saved at most once a second (with the attempt's time). */
export function unitContext(store: RunStore, unit: Unit, threads: number, log: (l: string) => void, saveElapsed: () => void): UnitContext {
  let last = 0;
  return {
    unit,
    workDir: store.workDir(unit.id),
    outDir: store.dir(unit.id),
    threads,
    log,
    dep: (id) => ({ record: store.result(id)!, dir: store.dir(id) }),
    progress: (done, total, text) => {
      if (Date.now() - last < 1000 && done < total) return;
      last = Date.now();
      saveElapsed();
      store.writeProgress(unit.id, { done, total, text, at: new Date().toISOString() });
    },
  };
}

/**
 * A failed attempt recorded for each unit, and the worker's exit code. Failures that
 * would repeat are not retried; a CUDA OOM is retried with fewer units on its GPU
 * (failure-kind.ts). `say` gets "(kind): first line".
 */
export function failAttempts(store: RunStore, attempts: { id: string; attempt: number }[], e: unknown, say: (m: string) => void): number {
  const stack = e instanceof Error ? (e.stack ?? e.message) : String(e);
  const f = failureKind(e);
  const why = f.kind === "transient" ? stack : f.message;
  for (const a of attempts) store.fail(a.id, why, a.attempt, f.kind);
  say(`(${f.kind}): ${why.split("\n")[0]}`);
  return f.kind === "permanent" ? EXIT.badInput : f.kind === "cuda-oom" ? EXIT.cudaOom : EXIT.failed;
}

/** A finished unit's record: its outcome, where and how it ran, what its attempts cost. */
export function unitRecord(unit: Unit, out: UnitOutcome, a: { threads: number; attempt: number; started: Date; attemptSeconds: number[] }): UnitRecord {
  const ctx = runContext();
  return {
    unitId: unit.id,
    kind: unit.kind,
    status: out.status,
    ...(unit.label ? { label: unit.label } : {}),
    config: unit.config as Record<string, unknown>,
    deps: unit.deps,
    env: {
      engine: out.engine,
      provider: out.provider,
      threads: a.threads,
      host: hostname(),
      commit: ctx.commit,
      runtime: ctx.runtime,
      ...(providerChecks().length ? { providerChecks: providerChecks() } : {}),
      ...(trainerFacts().length ? { trainers: trainerFacts() } : {}),
      ...(out.pack ? { pack: out.pack } : {}),
    },
    startedAt: a.started.toISOString(),
    finishedAt: new Date().toISOString(),
    wallSeconds: a.attemptSeconds.reduce((x, y) => x + y, 0),
    attemptSeconds: a.attemptSeconds,
    attempts: a.attempt,
    metrics: out.metrics,
  };
}

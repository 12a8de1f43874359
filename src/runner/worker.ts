#!/usr/bin/env bun
/**
 * Runs one unit of the run store by id: the process the local pool and Slurm tasks
 * start. Exit codes: 0 complete (or already complete), 2 bad settings or input files
 * (not retried), 3 another runner holds the
 * unit's lock, 4 a dependency is not complete, 5 already complete before this worker
 * started (only with --signal-reuse), 6 CUDA out of memory (the pool retries with fewer
 * units on that GPU), 1 the attempt failed (why is in failed.json),
 * 130/143 interrupted.
 */
import { Command } from "commander";
import { availableParallelism, hostname } from "node:os";
import type { UnitRecord } from "../config/generated/record.ts";
import { ConfigError, validateConfig } from "../config/load.ts";
import { runContext } from "../util/provenance.ts";
import { getKind } from "./kinds/registry.ts";
import { RunStore } from "./store.ts";
import { failureKind } from "./failure-kind.ts";
import { DependencyDamaged } from "./dependency-error.ts";
import { providerChecks } from "../engine/provider-check.ts";
import { trainerFacts } from "../engine/registry.ts";
import { setReplyLimits, type ReplyLimits } from "../engine/torch/torch-process.ts";
import { requireGpu } from "../engine/device-error.ts";

export const EXIT = { done: 0, failed: 1, badInput: 2, locked: 3, depsMissing: 4, alreadyDone: 5, cudaOom: 6 } as const;

/**
 * How often the attempt's running time is saved besides at progress reports: a killed
 * unit that reports no progress loses at most this much of its time from its record.
 * (The lock's heartbeat is a thread of its own: heartbeat.ts.)
 */
const SAVE_ELAPSED_MS = 15_000;

export async function runWorker(o: {
  runsDir: string;
  unitId: string;
  threads: number;
  staleLockSeconds?: number;
  log?: (l: string) => void;
  signalReuse?: boolean;
  /** The torch engine's watchdog (runner.replyTimeout); absent: the schema's defaults. */
  replyTimeout?: ReplyLimits;
}): Promise<number> {
  if (o.replyTimeout) setReplyLimits(o.replyTimeout);
  // Placed on a GPU by the pool (--gpus) or a Slurm task (--slurm-gpus): training on the CPU instead is an error.
  requireGpu(process.env.PRUNING_HARNESS_GPU_REQUIRED || null);
  const log = o.log ?? ((l: string) => process.stderr.write(`[${o.unitId}] ${l}\n`));
  const store = new RunStore(o.runsDir, o.staleLockSeconds);
  // Complete before this worker did anything (another runner finished it): not this worker's run.
  const reused = o.signalReuse ? EXIT.alreadyDone : EXIT.done;
  if (store.isDone(o.unitId)) return reused;
  const lock = store.lock(o.unitId);
  if (!lock.acquired) {
    log(`in progress elsewhere: locked by pid ${lock.holder?.pid} on ${lock.holder?.host} since ${lock.holder?.startedAt}`);
    return EXIT.locked;
  }
  // Set once the attempt is counted: saves how long it has run (see RunStore.saveAttemptSeconds).
  let saveElapsed = () => {};
  const beat = setInterval(() => saveElapsed(), SAVE_ELAPSED_MS);
  const release = () => {
    clearInterval(beat);
    lock.release();
  };
  // Ctrl-C / scancel: drop the lock so the next run can resume from the last checkpoint.
  const onSignal = (sig: NodeJS.Signals) => {
    saveElapsed();
    release();
    process.exit(sig === "SIGINT" ? 130 : 143);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    if (store.isDone(o.unitId)) return reused;
    let unit;
    try {
      unit = store.readUnit(o.unitId);
    } catch (e) {
      // A damaged definition fails the same way every time: fail once, clearly (planning rewrites it).
      if (!(e instanceof ConfigError)) throw e;
      store.fail(o.unitId, e.message, store.attempts(o.unitId), "permanent");
      log(`cannot run: ${e.message}`);
      return EXIT.badInput;
    }
    for (const d of unit.deps) {
      if (!store.isDone(d)) {
        log(`dependency ${d} is not complete`);
        return EXIT.depsMissing;
      }
    }
    const attempt = store.nextAttempt(unit.id);
    const started = new Date();
    const elapsed = () => (Date.now() - started.getTime()) / 1000;
    saveElapsed = () => store.saveAttemptSeconds(unit.id, attempt, elapsed());
    saveElapsed();
    let lastProgress = 0;
    try {
      const kind = await getKind(unit.kind);
      const config = (kind.schema ? validateConfig(kind.schema, unit.config, `config of ${unit.id}`) : unit.config) as never;
      const out = await kind.run(config, {
        unit,
        workDir: store.workDir(unit.id),
        outDir: store.dir(unit.id),
        threads: o.threads,
        log,
        dep: (id) => ({ record: store.result(id)!, dir: store.dir(id) }),
        progress: (done, total, text) => {
          if (Date.now() - lastProgress < 1000 && done < total) return;
          lastProgress = Date.now();
          saveElapsed();
          store.writeProgress(unit.id, { done, total, text, at: new Date().toISOString() });
        },
      });
      const ctx = runContext();
      // Every attempt's time, killed and failed ones up to their last save: a unit that
      // crashed and resumed cost the sum (IMP's and BiP's times stay comparable).
      const own = elapsed();
      store.saveAttemptSeconds(unit.id, attempt, own);
      const attemptSeconds = [...store.attemptSeconds(unit.id, attempt - 1), own];
      const record: UnitRecord = {
        unitId: unit.id,
        kind: unit.kind,
        status: out.status,
        ...(unit.label ? { label: unit.label } : {}),
        config: unit.config as Record<string, unknown>,
        deps: unit.deps,
        env: {
          engine: out.engine,
          provider: out.provider,
          threads: o.threads,
          host: hostname(),
          commit: ctx.commit,
          runtime: ctx.runtime,
          ...(providerChecks().length ? { providerChecks: providerChecks() } : {}),
          ...(trainerFacts().length ? { trainers: trainerFacts() } : {}),
        },
        startedAt: started.toISOString(),
        finishedAt: new Date().toISOString(),
        wallSeconds: attemptSeconds.reduce((a, b) => a + b, 0),
        attemptSeconds,
        attempts: attempt,
        metrics: out.metrics,
      };
      store.complete(record);
      // The resume checkpoint is scratch: the result and the unit's outputs replace it.
      store.clearWork(unit.id);
      return EXIT.done;
    } catch (e) {
      // A dependency's output is damaged: the dependency runs again (the pool recomputes it), then this unit.
      if (e instanceof DependencyDamaged) {
        saveElapsed();
        store.invalidate(e.depId, `${e.path} is ${e.reason}`);
        log(`attempt ${attempt}: ${e.message}`);
        return EXIT.depsMissing;
      }
      const stack = e instanceof Error ? (e.stack ?? e.message) : String(e);
      // Failures that would repeat are not retried; a CUDA OOM is retried with fewer units on its GPU (failure-kind.ts).
      const f = failureKind(e);
      saveElapsed();
      store.fail(unit.id, f.kind === "transient" ? stack : f.message, attempt, f.kind);
      log(`attempt ${attempt} failed (${f.kind}): ${(f.kind === "transient" ? stack : f.message).split("\n")[0]}`);
      return f.kind === "permanent" ? EXIT.badInput : f.kind === "cuda-oom" ? EXIT.cudaOom : EXIT.failed;
    }
  } finally {
    release();
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
}

/** "600,0.25" -> the watchdog's limits (the form the pool and Slurm scripts pass them in). */
export function parseReplyTimeout(v: string): ReplyLimits {
  const [base, perImage] = v.split(",").map(Number);
  if (!(base! > 0) || !(perImage! >= 0)) throw new ConfigError(`--reply-timeout: expected "baseSeconds,secondsPerImage", given "${v}"`);
  return { baseSeconds: base!, secondsPerImage: perImage! };
}

/** The worker flag that carries runner.replyTimeout. */
export function replyTimeoutFlag(l: ReplyLimits): string[] {
  return ["--reply-timeout", `${l.baseSeconds},${l.secondsPerImage}`];
}

if (import.meta.main) {
  const opts = new Command("worker")
    .description("Run one unit of the run store (started by the local pool or a Slurm task)")
    .requiredOption("--runs-dir <dir>", "run store")
    .option("--unit <id>", "unit id")
    .option("--manifest <file>", "file with one unit id per line (Slurm job arrays)")
    .option("--index <n>", "line of the manifest to run (default $SLURM_ARRAY_TASK_ID)")
    .option("--threads <n>", "engine threads", String(availableParallelism()))
    .option("--stale-lock-seconds <n>", "take over locks older than this", "300")
    .option("--reply-timeout <base,perImage>", "torch engine watchdog: seconds per request, plus seconds per image (runner.replyTimeout)")
    .option("--signal-reuse", "exit 5 instead of 0 when the unit was already complete (the local pool counts the units each runner ran)")
    .parse()
    .opts<{
      runsDir: string;
      unit?: string;
      manifest?: string;
      index?: string;
      threads: string;
      staleLockSeconds: string;
      signalReuse?: boolean;
      replyTimeout?: string;
    }>();
  let id = opts.unit;
  if (!id && opts.manifest) {
    const index = Number(opts.index ?? process.env.SLURM_ARRAY_TASK_ID);
    const ids = (await Bun.file(opts.manifest).text()).split("\n").filter(Boolean);
    id = ids[index];
    if (!id) {
      console.error(`error: no unit at index ${index} of ${opts.manifest} (${ids.length} lines)`);
      process.exit(2);
    }
  }
  if (!id) {
    console.error("error: give --unit or --manifest");
    process.exit(2);
  }
  process.exit(
    await runWorker({
      runsDir: opts.runsDir,
      unitId: id,
      threads: Number(opts.threads),
      staleLockSeconds: Number(opts.staleLockSeconds),
      signalReuse: opts.signalReuse,
      ...(opts.replyTimeout ? { replyTimeout: parseReplyTimeout(opts.replyTimeout) } : {}),
    }),
  );
}

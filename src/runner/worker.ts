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
import { appendFileSync, mkdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { ConfigError, validateConfig } from "../config/load.ts";
import { getKind } from "./kinds/registry.ts";
import { RunStore } from "./store.ts";
import { DependencyDamaged } from "./dependency-error.ts";
import { setReplyLimits, type ReplyLimits } from "../engine/torch/torch-process.ts";
import { requireGpu } from "../engine/device-error.ts";
import type { UnitOutcome } from "./kinds/kind.ts";
import type { Unit } from "./unit.ts";
import { failAttempts, guardAttempt, unitContext, unitRecord } from "./worker-attempt.ts";
import { parseReplyTimeout } from "./worker-flags.ts";

import { EXIT } from "./exit-codes.ts";

export { EXIT } from "./exit-codes.ts";
export { parseReplyTimeout, replyTimeoutFlag } from "./worker-flags.ts";

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
  const guard = guardAttempt(() => lock.release());
  const saveElapsed = () => guard.save();
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
    guard.onSave(() => store.saveAttemptSeconds(unit.id, attempt, elapsed()));
    saveElapsed();
    try {
      const kind = await getKind(unit.kind);
      const config = (kind.schema ? validateConfig(kind.schema, unit.config, `config of ${unit.id}`) : unit.config) as never;
      const out = await kind.run(config, unitContext(store, unit, o.threads, log, saveElapsed));
      // Every attempt's time, killed and failed ones up to their last save: a unit that
      // crashed and resumed cost the sum (IMP's and BiP's times stay comparable).
      const own = elapsed();
      store.saveAttemptSeconds(unit.id, attempt, own);
      const record = unitRecord(unit, out, { threads: o.threads, attempt, started, attemptSeconds: [...store.attemptSeconds(unit.id, attempt - 1), own] });
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
      saveElapsed();
      return failAttempts(store, [{ id: unit.id, attempt }], e, (m) => log(`attempt ${attempt} failed ${m}`));
    }
  } finally {
    guard.end();
  }
}

/**
 * Runs several units of one kind and packKey as one pack (UnitKind.runPack). Each unit
 * keeps its own lock, attempt count, failure and record; a unit another runner holds,
 * or whose dependencies are not complete, is left out of the pack (the pool runs it
 * later). Exit codes as runWorker's, for the pack as a whole: 0 when every member
 * completed; otherwise the pool reads each member's state from the store.
 */
export async function runPackWorker(o: Omit<Parameters<typeof runWorker>[0], "unitId"> & { unitIds: string[] }): Promise<number> {
  if (o.replyTimeout) setReplyLimits(o.replyTimeout);
  requireGpu(process.env.PRUNING_HARNESS_GPU_REQUIRED || null);
  const log = o.log ?? ((l: string) => process.stderr.write(`[pack ${o.unitIds[0]}+${o.unitIds.length - 1}] ${l}\n`));
  const store = new RunStore(o.runsDir, o.staleLockSeconds);
  const locks: { release(): void }[] = [];
  const units: Unit[] = [];
  const guard = guardAttempt(() => {
    for (const l of locks) l.release();
  });
  const saveElapsed = () => guard.save();
  try {
    for (const id of o.unitIds) {
      if (store.isDone(id)) continue;
      const lock = store.lock(id);
      if (!lock.acquired) {
        log(`${id} in progress elsewhere: left out of the pack`);
        continue;
      }
      locks.push(lock);
      let unit: Unit;
      try {
        unit = store.readUnit(id);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        store.fail(id, e.message, store.attempts(id), "permanent");
        log(`${id} cannot run: ${e.message}`);
        continue;
      }
      if (unit.deps.some((d) => !store.isDone(d))) {
        log(`${id}: a dependency is not complete; left out of the pack`);
        continue;
      }
      units.push(unit);
    }
    if (!units.length) return o.unitIds.every((id) => store.isDone(id)) ? EXIT.done : EXIT.depsMissing;
    const kind = await getKind(units[0]!.kind);
    if (!kind.runPack || units.some((u) => u.kind !== kind.name))
      throw new ConfigError(`units ${units.map((u) => u.id).join(", ")} cannot train as one pack (kind ${kind.name})`);
    const attempts = new Map(units.map((u) => [u.id, store.nextAttempt(u.id)]));
    // The pack's output goes to its first member's worker.log: the others say where.
    for (const u of units.slice(1)) {
      mkdirSync(store.dir(u.id), { recursive: true });
      appendFileSync(
        join(store.dir(u.id), "worker.log"),
        `[${u.id}] attempt ${attempts.get(u.id)} trains in a pack of ${units.length} (${units.map((x) => x.id).join(", ")}); its log: ${join(store.dir(units[0]!.id), "worker.log")}\n`,
      );
    }
    const started = new Date();
    const elapsed = () => (Date.now() - started.getTime()) / 1000;
    guard.onSave(() => {
      for (const u of units) store.saveAttemptSeconds(u.id, attempts.get(u.id)!, elapsed());
    });
    saveElapsed();
    const configs = units.map((u) => (kind.schema ? validateConfig(kind.schema, u.config, `config of ${u.id}`) : u.config) as never);
    const ctxs = units.map((unit) => unitContext(store, unit, o.threads, (l) => log(`${unit.id}: ${l}`), saveElapsed));
    let outs: UnitOutcome[];
    try {
      outs = await kind.runPack(configs, ctxs);
    } catch (e) {
      saveElapsed();
      return failAttempts(
        store,
        units.map((u) => ({ id: u.id, attempt: attempts.get(u.id)! })),
        e,
        (m) => log(`pack attempt failed ${m}`),
      );
    }
    // A pack's time is its members' time: each member's record counts the whole pack's wall time
    // (its share of the machine is the pack's), as the records' env.pack says.
    const own = elapsed();
    units.forEach((unit, k) => {
      const attempt = attempts.get(unit.id)!;
      store.saveAttemptSeconds(unit.id, attempt, own);
      store.complete(
        unitRecord(unit, outs[k]!, { threads: o.threads, attempt, started, attemptSeconds: [...store.attemptSeconds(unit.id, attempt - 1), own] }),
      );
      store.clearWork(unit.id);
    });
    return o.unitIds.every((id) => store.isDone(id)) ? EXIT.done : EXIT.depsMissing;
  } finally {
    guard.end();
  }
}

if (import.meta.main) {
  const opts = new Command("worker")
    .description("Run one unit of the run store (started by the local pool or a Slurm task)")
    .requiredOption("--runs-dir <dir>", "run store")
    .option("--unit <ids>", "unit id, or several comma-separated ids of one kind to train as one pack")
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
  const ids = id.split(",").filter(Boolean);
  const common = {
    runsDir: opts.runsDir,
    threads: Number(opts.threads),
    staleLockSeconds: Number(opts.staleLockSeconds),
    signalReuse: opts.signalReuse,
    ...(opts.replyTimeout ? { replyTimeout: parseReplyTimeout(opts.replyTimeout) } : {}),
  };
  if (ids.length > 1) process.exit(await runPackWorker({ ...common, unitIds: ids }));
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

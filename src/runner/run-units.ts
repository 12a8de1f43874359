import { availableParallelism } from "node:os";
import type { UnitRecord } from "../config/generated/record.ts";
import type { RunnerConfig } from "../config/generated/runner.ts";
import { runLocalPool, type UnitState } from "./local-pool.ts";
import { formatPlan, makePlan } from "./plan.ts";
import { progressView } from "./progress-view.ts";
import { runSlurm } from "./slurm.ts";
import { RunStore } from "./store.ts";
import { assertWritableDir } from "./writable-dir.ts";
import type { Unit } from "./unit.ts";

export interface RunOutcome {
  records: Map<string, UnitRecord>;
  /** Units this invocation's own workers (or Slurm tasks) completed. */
  ran: string[];
  /** Units complete before this invocation started. */
  reused: string[];
  failed: { id: string; label?: string; error: string }[];
  blocked: string[];
}

/**
 * jobs x threads = cores unless set explicitly ("auto": decided per worker by the pool);
 * with GPUs to place on, jobs defaults to GPUs x jobsPerGpu.
 */
export function resources(cfg: RunnerConfig): { jobs: number; threadsPerJob: number | "auto" } {
  const jobs = cfg.jobs > 0 ? cfg.jobs : cfg.gpus.length ? cfg.gpus.length * cfg.jobsPerGpu : availableParallelism();
  return { jobs, threadsPerJob: cfg.threadsPerJob > 0 ? cfg.threadsPerJob : "auto" };
}

/**
 * The runner: records every unit in the store, skips complete ones, runs the rest on
 * the chosen executor and returns the records. With dryRun it prints the plan and
 * writes nothing.
 */
export async function runUnits(
  planned: Unit<unknown>[],
  cfg: RunnerConfig,
  o: { dryRun?: boolean; reportDir: string; log?: (l: string) => void; progress?: boolean; outputDirs?: { dir: string; flag: string }[] },
): Promise<RunOutcome | null> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  // The same unit asked for twice (--seeds 1,1) is one unit.
  const units = [...new Map(planned.map((u) => [u.id, u])).values()];
  const store = new RunStore(cfg.runsDir, cfg.staleLockSeconds);
  const { jobs, threadsPerJob } = resources(cfg);
  const plan = await makePlan(units, store, {
    jobs,
    reportDir: o.reportDir,
    gpus: cfg.executor === "local" && cfg.gpus.length ? { count: cfg.gpus.length, jobsPerGpu: cfg.jobsPerGpu } : undefined,
  });
  // A dry run's plan is its output (stdout, so `> plan.txt` keeps it); a real run's is a notice.
  (o.dryRun ? (l: string) => console.log(l) : log)(formatPlan(plan, { executor: cfg.executor, jobs, runsDir: cfg.runsDir }));
  if (o.dryRun) return null;
  // Everything the run will write must be writable before the first unit starts.
  const before = new Set(plan.complete);
  // A store that only serves finished units may be read-only.
  if (before.size < units.length) assertWritableDir(cfg.runsDir, "--runs-dir");
  for (const out of o.outputDirs ?? []) assertWritableDir(out.dir, out.flag);
  for (const u of units) store.plan(u);

  let states: Map<string, UnitState>;
  // A unit counts as run here when one of this process's workers took it to done; one
  // another runner finished while this one waited on its lock does not.
  const mine = new Set<string>(),
    ran = new Set<string>();
  if (cfg.executor === "slurm") {
    states = await runSlurm(units, store, cfg, { log });
  } else {
    const view = o.progress !== false ? await progressView(units, store) : undefined;
    try {
      states = await runLocalPool(units, store, {
        jobs,
        threadsPerJob,
        maxAttempts: cfg.maxAttempts,
        staleLockSeconds: cfg.staleLockSeconds,
        gpus: cfg.gpus,
        jobsPerGpu: cfg.jobsPerGpu,
        onEvent: (e) => {
          view?.onEvent(e);
          if (e.unit?.state === "running") mine.add(e.unit.id);
          else if (e.unit?.state === "waiting") mine.delete(e.unit.id);
          else if (e.unit?.state === "done" && mine.has(e.unit.id) && !e.unit.detail) ran.add(e.unit.id);
          if (e.unit && (e.unit.state === "failed" || e.unit.detail?.includes("retrying")))
            log(`\n${e.unit.label ?? e.unit.id}: ${e.unit.state}${e.unit.detail ? ` (${e.unit.detail})` : ""}`);
        },
      });
    } finally {
      view?.stop();
    }
  }
  if (cfg.executor === "slurm") for (const [id, s] of states) if (s === "done" && !before.has(id)) ran.add(id);
  const out: RunOutcome = { records: new Map(), ran: [...ran], reused: [...before], failed: [], blocked: [] };
  for (const u of units) {
    const r = store.result(u.id);
    if (r) out.records.set(u.id, r);
    else if (states.get(u.id) === "blocked") out.blocked.push(u.id);
    else out.failed.push({ id: u.id, label: u.label, error: store.failure(u.id)?.error.split("\n")[0] ?? "did not complete" });
  }
  return out;
}

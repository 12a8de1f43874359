import { availableParallelism, totalmem } from "node:os";
import type { UnitRecord } from "../config/generated/record.ts";
import { ConfigError } from "../config/load.ts";
import type { RunnerConfig } from "../config/generated/runner.ts";
import { runLocalPool, type UnitState } from "./local-pool.ts";
import { checkSlurmTime, formatPlan, makePlan, throughputFiles } from "./plan.ts";
import { packKeysOf, resolvePackSize } from "./packing.ts";
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
  /** permanent: bad settings, input or device (failure-kind.ts): rerunning as is fails again. */
  failed: { id: string; label?: string; error: string; permanent: boolean }[];
  blocked: string[];
}

/**
 * A command's exit code for a run: 0 when every unit completed; 2 when the units that
 * failed all failed on bad settings, input or a device asked for (what the user must
 * change); 1 otherwise (crashes, attempts used up).
 */
export function outcomeExitCode(out: Pick<RunOutcome, "failed" | "blocked">): 0 | 1 | 2 {
  if (!out.failed.length && !out.blocked.length) return 0;
  return out.failed.length && out.failed.every((f) => f.permanent) ? 2 : 1;
}

/**
 * jobs x threads = cores unless set explicitly ("auto": decided per worker by the pool);
 * with GPUs to place on, jobs defaults to GPUs x jobsPerGpu.
 */
export function resources(
  cfg: RunnerConfig,
  machine = { cores: availableParallelism(), memoryBytes: totalmem() },
): { jobs: number; threadsPerJob: number | "auto" } {
  const jobs = cfg.jobs > 0 ? cfg.jobs : cfg.gpus.length ? cfg.gpus.length * cfg.jobsPerGpu : availableParallelism();
  // Each local worker is a process of about 300 MB: an explicit --jobs beyond what the
  // machine holds (4 per core, or its memory) is refused rather than started.
  const WORKER_BYTES = 300e6;
  const most = Math.max(1, Math.min(4 * machine.cores, Math.floor(machine.memoryBytes / WORKER_BYTES)));
  if (cfg.executor === "local" && cfg.jobs > most)
    throw new ConfigError(
      `--jobs ${cfg.jobs}: this machine holds at most ${most} workers (${machine.cores} cores, ${(machine.memoryBytes / 1e9).toFixed(1)} GB of memory; ` +
        `at most 4 per core, about 300 MB each); use --jobs ${most} or fewer, or leave --jobs out for one per core`,
    );
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
  // Units that differ only in seed, masks and start train K to a worker (runner.pack).
  const pack = await resolvePackSize(cfg, units, throughputFiles(o.reportDir, cfg.throughputFile), cfg.executor === "local" ? jobs : 1);
  const packKeys = pack.size > 1 ? await packKeysOf(units) : new Map<string, string | null>();
  if (pack.size > 1 || cfg.pack === "auto")
    (o.dryRun ? (l: string) => console.log(l) : log)(`packing: ${pack.size > 1 ? `up to ${pack.size} units per worker; ` : ""}${pack.why}`);
  const plan = await makePlan(units, store, {
    pack: pack.size,
    jobs,
    reportDir: o.reportDir,
    readOnly: o.dryRun,
    gpus: cfg.executor === "local" && cfg.gpus.length ? { count: cfg.gpus.length, jobsPerGpu: cfg.jobsPerGpu } : undefined,
    throughputFile: cfg.throughputFile,
    slurm: cfg.executor === "slurm" ? { ...cfg.slurm, unitsPerTask: cfg.jobsPerGpu } : undefined,
  });
  // A dry run's plan is its output (stdout, so `> plan.txt` keeps it); a real run's is a notice.
  (o.dryRun ? (l: string) => console.log(l) : log)(formatPlan(plan, { executor: cfg.executor, jobs, runsDir: cfg.runsDir }));
  // A unit that cannot finish within --slurm-time is an error before anything is submitted (a dry run says so too).
  checkSlurmTime(plan);
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
  // Under Slurm: each unit's last task log (.slurm/<jobid>_<task>.out), named when it fails.
  const slurmLogs = new Map<string, string>();
  if (cfg.executor === "slurm") {
    states = await runSlurm(units, store, cfg, { log, logs: slurmLogs, pack: pack.size, packKeys });
  } else {
    const view = o.progress !== false ? await progressView(units, store) : undefined;
    try {
      states = await runLocalPool(units, store, {
        jobs,
        threadsPerJob,
        maxAttempts: cfg.maxAttempts,
        staleLockSeconds: cfg.staleLockSeconds,
        replyTimeout: cfg.replyTimeout,
        gpus: cfg.gpus,
        jobsPerGpu: cfg.jobsPerGpu,
        pack: pack.size,
        packKeys,
        onEvent: (e) => {
          view?.onEvent(e);
          if (e.unit?.state === "running") mine.add(e.unit.id);
          else if (e.unit?.state === "waiting") mine.delete(e.unit.id);
          else if (e.unit?.state === "done" && mine.has(e.unit.id) && !e.unit.detail) ran.add(e.unit.id);
          if (e.unit && (e.unit.state === "failed" || e.unit.state === "waiting" || e.unit.detail?.includes("retrying")))
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
    else {
      const log = slurmLogs.get(u.id);
      const failure = store.failure(u.id);
      const error = failure?.error.split("\n")[0] ?? "did not complete";
      out.failed.push({ id: u.id, label: u.label, error: log ? `${error} (Slurm log: ${log})` : error, permanent: failure?.kind === "permanent" });
    }
  }
  return out;
}

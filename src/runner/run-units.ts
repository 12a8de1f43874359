import { availableParallelism } from "node:os";
import cliProgress from "cli-progress";
import type { UnitRecord } from "../config/generated/record.ts";
import type { RunnerConfig } from "../config/generated/runner.ts";
import { runLocalPool, type UnitState } from "./local-pool.ts";
import { formatPlan, makePlan } from "./plan.ts";
import { runSlurm } from "./slurm.ts";
import { RunStore } from "./store.ts";
import type { Unit } from "./unit.ts";

export interface RunOutcome {
  records: Map<string, UnitRecord>;
  failed: { id: string; label?: string; error: string }[];
  blocked: string[];
}

/** jobs x threads = cores unless set explicitly. */
export function resources(cfg: RunnerConfig): { jobs: number; threadsPerJob: number } {
  const cores = availableParallelism();
  const jobs = cfg.jobs > 0 ? cfg.jobs : cores;
  const threadsPerJob = cfg.threadsPerJob > 0 ? cfg.threadsPerJob : Math.max(1, Math.floor(cores / jobs));
  return { jobs, threadsPerJob };
}

/**
 * The runner: records every unit in the store, skips complete ones, runs the rest on
 * the chosen executor and returns the records. With dryRun it prints the plan and
 * writes nothing.
 */
export async function runUnits(units: Unit<unknown>[], cfg: RunnerConfig, o: { dryRun?: boolean; reportDir: string; log?: (l: string) => void; progress?: boolean }): Promise<RunOutcome | null> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const store = new RunStore(cfg.runsDir, cfg.staleLockSeconds);
  const { jobs, threadsPerJob } = resources(cfg);
  const plan = await makePlan(units, store, { jobs, reportDir: o.reportDir });
  log(formatPlan(plan, { executor: cfg.executor, jobs, runsDir: cfg.runsDir }));
  if (o.dryRun) return null;
  for (const u of units) store.plan(u);

  let states: Map<string, UnitState>;
  if (cfg.executor === "slurm") {
    states = await runSlurm(units, store, cfg, { log });
  } else {
    const bar = new cliProgress.SingleBar(
      { format: "units |{bar}| {complete}/{total} complete | running {running} | failed {failed} | ETA {eta_formatted} {detail}", stream: process.stderr, etaBuffer: 50, hideCursor: true, noTTYOutput: !process.stderr.isTTY, notTTYSchedule: 30_000 },
      cliProgress.Presets.shades_classic,
    );
    const show = o.progress !== false;
    let last = { done: 0, running: 0, failed: 0 };
    const running = new Set<string>();
    // Fractions of running units, from the progress files their workers keep in the store.
    const refresh = () => {
      let partial = 0;
      let detail = "";
      for (const id of running) {
        const p = store.progress(id);
        if (!p || p.total <= 0) continue;
        partial += Math.min(1, p.done / p.total);
        if (!detail && p.text) detail = `| ${units.find((u) => u.id === id)?.label ?? id}: ${p.text}`;
      }
      bar.update(last.done + partial, { complete: last.done, running: last.running, failed: last.failed, detail });
    };
    if (show) bar.start(units.length, 0, { complete: 0, running: 0, failed: 0, detail: "" });
    const timer = show ? setInterval(refresh, 1000) : undefined;
    try {
      states = await runLocalPool(units, store, {
        jobs,
        threadsPerJob,
        maxAttempts: cfg.maxAttempts,
        staleLockSeconds: cfg.staleLockSeconds,
        onEvent: (e) => {
          last = e;
          if (e.unit?.state === "running") running.add(e.unit.id);
          else if (e.unit) running.delete(e.unit.id);
          if (show) refresh();
          if (e.unit && (e.unit.state === "failed" || e.unit.detail?.includes("retrying"))) log(`\n${e.unit.label ?? e.unit.id}: ${e.unit.state}${e.unit.detail ? ` (${e.unit.detail})` : ""}`);
        },
      });
    } finally {
      clearInterval(timer);
      if (show) bar.stop();
    }
  }
  const out: RunOutcome = { records: new Map(), failed: [], blocked: [] };
  for (const u of units) {
    const r = store.result(u.id);
    if (r) out.records.set(u.id, r);
    else if (states.get(u.id) === "blocked") out.blocked.push(u.id);
    else out.failed.push({ id: u.id, label: u.label, error: store.failure(u.id)?.error.split("\n")[0] ?? "did not complete" });
  }
  return out;
}

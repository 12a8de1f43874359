import { execa } from "execa";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { RunnerConfig } from "../config/generated/runner.ts";
import { ConfigError } from "../config/load.ts";
import { Interrupted, type UnitState } from "./local-pool.ts";
import type { RunStore } from "./store.ts";
import type { Unit } from "./unit.ts";

const REPO_ROOT = resolve(import.meta.dir, "../..");
const WORKER = join(import.meta.dir, "worker.ts");

export async function sbatchAvailable(): Promise<boolean> {
  const r = await execa("sh", ["-c", "command -v sbatch && command -v squeue"], { reject: false });
  return r.exitCode === 0;
}

/**
 * The sbatch script of one job array. Task i runs manifest lines i*k .. i*k+k-1 side by
 * side (k = jobsPerGpu, 1 by default), sharing the task's GPUs and CPUs: several small
 * runs fill a GPU that one leaves mostly idle.
 */
export function sbatchScript(o: {
  name: string;
  count: number;
  manifest: string;
  runsDir: string;
  logDir: string;
  slurm: RunnerConfig["slurm"];
  staleLockSeconds: number;
  jobsPerGpu?: number;
}): string {
  const s = o.slurm;
  const k = Math.max(1, Math.min(o.jobsPerGpu ?? 1, o.count));
  const tasks = Math.ceil(o.count / k);
  const worker = (index: string, threads: number) =>
    `${JSON.stringify(process.execPath)} ${JSON.stringify(WORKER)} --runs-dir ${JSON.stringify(resolve(o.runsDir))} --manifest ${JSON.stringify(o.manifest)} --index ${index} --threads ${threads} --stale-lock-seconds ${o.staleLockSeconds}`;
  const lines = [
    "#!/bin/bash",
    `#SBATCH --job-name=${o.name}`,
    `#SBATCH --array=0-${tasks - 1}`,
    `#SBATCH --cpus-per-task=${s.cpusPerTask}`,
    `#SBATCH --mem=${s.memory}`,
    `#SBATCH --time=${s.time}`,
    `#SBATCH --output=${join(o.logDir, "%A_%a.out")}`,
    ...(s.partition ? [`#SBATCH --partition=${s.partition}`] : []),
    ...(s.gpus ? [`#SBATCH --gpus-per-task=${s.gpus}`] : []),
    ...s.extraArgs.map((a) => `#SBATCH ${a}`),
    // The run store on the shared filesystem is the only coordination between tasks.
    `cd ${JSON.stringify(REPO_ROOT)}`,
    ...(k === 1
      ? [`exec ${worker("$SLURM_ARRAY_TASK_ID", s.cpusPerTask)}`]
      : [
          `for j in $(seq 0 ${k - 1}); do`,
          `  i=$((SLURM_ARRAY_TASK_ID * ${k} + j))`,
          `  if [ "$i" -lt ${o.count} ]; then ${worker("$i", Math.max(1, Math.floor(s.cpusPerTask / k)))} & fi`,
          "done",
          // The task's status is the worst of its units'; the runner reads results from the store anyway.
          'status=0; for p in $(jobs -p); do wait "$p" || status=$?; done; exit $status',
        ]),
    "",
  ];
  return lines.join("\n");
}

/**
 * Runs units as sbatch job arrays, one array per wave of units whose dependencies are
 * complete. Polls squeue until a wave's tasks have left the queue, then reads the run
 * store: units without a result are resubmitted until maxAttempts, then reported
 * failed (their dependents blocked). Ctrl-C cancels the submitted job.
 */
export async function runSlurm(units: Unit<unknown>[], store: RunStore, cfg: RunnerConfig, o: { log: (l: string) => void }): Promise<Map<string, UnitState>> {
  if (!(await sbatchAvailable()))
    throw new ConfigError("--executor slurm needs sbatch and squeue on PATH (run from a Slurm login node, or use --executor local)");
  const state = new Map<string, UnitState>(units.map((u) => [u.id, store.isDone(u.id) ? "done" : "pending"]));
  const logDir = join(resolve(cfg.runsDir), ".slurm");
  mkdirSync(logDir, { recursive: true });
  let current: string | null = null;
  // Submissions count too: a task that dies before its worker starts records no attempt.
  const submitted = new Map<string, number>();
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    if (current) void execa("scancel", [current], { reject: false });
  };
  process.on("SIGINT", onSigint);
  try {
    for (let wave = 0; !interrupted; wave++) {
      for (const u of units) {
        if (state.get(u.id) !== "pending") continue;
        if (u.deps.some((d) => state.get(d) === "failed" || state.get(d) === "blocked")) state.set(u.id, "blocked");
      }
      const ready = units.filter((u) => state.get(u.id) === "pending" && u.deps.every((d) => (state.get(d) ?? (store.isDone(d) ? "done" : "")) === "done"));
      if (ready.length === 0) break;
      const stamp = `${Date.now()}-w${wave}`;
      const manifest = join(logDir, `${stamp}.units`);
      writeFileSync(manifest, ready.map((u) => u.id).join("\n") + "\n");
      const script = join(logDir, `${stamp}.sbatch`);
      writeFileSync(
        script,
        sbatchScript({
          name: "pruning-harness",
          count: ready.length,
          manifest,
          runsDir: cfg.runsDir,
          logDir,
          slurm: cfg.slurm,
          staleLockSeconds: cfg.staleLockSeconds,
          jobsPerGpu: cfg.jobsPerGpu,
        }),
      );
      const sub = await execa("sbatch", ["--parsable", script], { reject: false });
      // Usually no reachable controller or a bad resource request: the same every retry.
      if (sub.exitCode !== 0)
        throw new ConfigError(
          `--executor slurm: sbatch refused the job: ${String(sub.stderr).trim().split("\n")[0]} (check the cluster with \`sinfo\`, or the --slurm-* flags)`,
        );
      current = String(sub.stdout).trim().split(";")[0]!;
      for (const u of ready) submitted.set(u.id, (submitted.get(u.id) ?? 0) + 1);
      o.log(`slurm: submitted job array ${current} with ${ready.length} task(s) (script ${script})`);
      while (!interrupted) {
        await Bun.sleep(cfg.slurm.pollSeconds * 1000);
        const q = await execa("squeue", ["-h", "-j", current, "-o", "%i %T"], { reject: false });
        const left = String(q.stdout).trim().split("\n").filter(Boolean);
        if (q.exitCode !== 0 && !/Invalid job id/i.test(String(q.stderr))) throw new Error(`squeue failed: ${String(q.stderr).trim()}`);
        o.log(
          `slurm: job ${current}: ${left.length} task(s) queued or running; ${units.filter((u) => store.isDone(u.id)).length}/${units.length} units complete`,
        );
        if (left.length === 0) break;
      }
      current = null;
      for (const u of ready) {
        if (store.isDone(u.id)) state.set(u.id, "done");
        else if (Math.max(store.attempts(u.id), submitted.get(u.id) ?? 0) >= cfg.maxAttempts) state.set(u.id, "failed");
        // else stays pending: resubmitted in the next wave
      }
    }
    if (interrupted) throw new Interrupted("interrupted: the Slurm job was cancelled; run the same command again to resume");
    return state;
  } finally {
    process.off("SIGINT", onSigint);
  }
}

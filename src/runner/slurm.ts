import { execa } from "execa";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import type { RunnerConfig } from "../config/generated/runner.ts";
import { ConfigError } from "../config/load.ts";
import { Interrupted, type UnitState } from "./local-pool.ts";
import type { RunStore } from "./store.ts";
import { replyTimeoutFlag } from "./worker-flags.ts";
import type { ReplyLimits } from "../engine/torch/torch-process.ts";
import type { Unit } from "./unit.ts";
import { groupIntoPacks } from "./packing.ts";

const REPO_ROOT = resolve(import.meta.dir, "../..");
/** Relative to the repo root, where the task starts (sbatch is run there: $SLURM_SUBMIT_DIR). */
const WORKER = relative(REPO_ROOT, join(import.meta.dir, "worker.ts"));

/**
 * The Slurm controller stopped answering squeue and the runner gave up watching: the job
 * is left running. Command-line entry points exit with its exitCode (3).
 */
export class SlurmPollError extends Error {
  override name = "SlurmPollError";
  readonly exitCode = 3;
}

/** The longest wait between retries of a failed squeue poll. */
const MAX_BACKOFF_SECONDS = 300;
/** A squeue that does not answer in this time counts as a failed poll. */
const SQUEUE_TIMEOUT_MS = 60_000;

/** The log file Slurm writes for one array task (#SBATCH --output). */
export function taskLog(logDir: string, jobId: string, task: number): string {
  return join(logDir, `${jobId}_${task}.out`);
}

/** A job array of `count` units, k = jobsPerGpu of them per task (fewer when there are fewer units): k and the task count. */
export function arrayShape(count: number, jobsPerGpu = 1): { k: number; tasks: number } {
  const k = Math.max(1, Math.min(jobsPerGpu, count));
  return { k, tasks: Math.ceil(count / k) };
}

export async function sbatchAvailable(): Promise<boolean> {
  const r = await execa("sh", ["-c", "command -v sbatch && command -v squeue"], { reject: false });
  return r.exitCode === 0;
}

/**
 * The sbatch script of one job array. Task i runs manifest lines i*k .. i*k+k-1 side by
 * side (k = jobsPerGpu, 1 by default), sharing the task's CPUs: several small runs fill
 * a GPU that one leaves mostly idle. Unit j of a task sees element j mod n of the task's
 * CUDA_VISIBLE_DEVICES (n GPUs) as its only GPU: its own when the task has k or more,
 * shared round-robin when fewer. The script runs from $SLURM_SUBMIT_DIR (sbatch is run
 * from the repo root) with `${PRUNING_HARNESS_BUN:-bun}`, so no path of the submitting
 * machine's bun is baked in; where bun is not found the task's log says so.
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
  /** The torch engine's watchdog (runner.replyTimeout); absent: the workers' defaults. */
  replyTimeout?: ReplyLimits;
}): string {
  const s = o.slurm;
  const { k, tasks } = arrayShape(o.count, o.jobsPerGpu);
  const worker = (index: string, threads: number) =>
    `"$BUN" ${JSON.stringify(WORKER)} --runs-dir ${JSON.stringify(resolve(o.runsDir))} --manifest ${JSON.stringify(o.manifest)} --index ${index} --threads ${threads} --stale-lock-seconds ${o.staleLockSeconds}${o.replyTimeout ? ` ${replyTimeoutFlag(o.replyTimeout).join(" ")}` : ""}`;
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
    // sbatch is run from the repo root, which the compute nodes must see at the same path.
    'cd "$SLURM_SUBMIT_DIR" || { echo "pruning-harness: cannot cd to the submit directory $SLURM_SUBMIT_DIR on $(hostname): the repository must be on a filesystem the compute nodes share" >&2; exit 2; }',
    'BUN="${PRUNING_HARNESS_BUN:-bun}"',
    'if ! command -v "$BUN" >/dev/null 2>&1; then echo "pruning-harness: bun not found on $(hostname) (looked for \\"$BUN\\" on PATH=$PATH): install bun on the compute nodes, or set PRUNING_HARNESS_BUN to its path before submitting (sbatch passes the environment on)" >&2; exit 127; fi',
    // The task's units probe and check their devices once between them (check-cache.ts).
    `export PRUNING_HARNESS_CHECK_CACHE=${JSON.stringify(join(resolve(o.runsDir), ".device-checks"))}/"\${SLURM_ARRAY_JOB_ID:-0}_\${SLURM_ARRAY_TASK_ID:-0}"`,
    // GPUs were asked for: a unit that would train on the CPU instead fails (device-error.ts).
    ...(s.gpus ? ["export PRUNING_HARNESS_GPU_REQUIRED=--slurm-gpus"] : []),
    ...(k === 1
      ? [`exec ${worker("$SLURM_ARRAY_TASK_ID", s.cpusPerTask)}`]
      : [
          // The task's GPUs as Slurm set them; unit j gets element j mod n (its own when n >= k).
          'IFS=, read -r -a gpus <<< "${CUDA_VISIBLE_DEVICES:-}"',
          `for j in $(seq 0 ${k - 1}); do`,
          `  i=$((SLURM_ARRAY_TASK_ID * ${k} + j))`,
          `  if [ "$i" -lt ${o.count} ]; then`,
          '    if [ "${#gpus[@]}" -gt 0 ]; then export CUDA_VISIBLE_DEVICES="${gpus[$((j % ${#gpus[@]}))]}"; echo "pruning-harness: manifest line $i on GPU $CUDA_VISIBLE_DEVICES" >&2; fi',
          `    ${worker("$i", Math.max(1, Math.floor(s.cpusPerTask / k)))} &`,
          "  fi",
          "done",
          // The task's status is the worst of its units'; the runner reads results from the store anyway.
          'status=0; for p in $(jobs -p); do wait "$p" || status=$?; done; exit $status',
        ]),
    "",
  ];
  return lines.join("\n");
}

/**
 * Polls squeue for a job's tasks still queued or running ("<jobid>_<task> <STATE>" lines).
 * A failed poll (an error, a timeout) is retried pollRetries times, waiting pollSeconds
 * x 2^i (at most MAX_BACKOFF_SECONDS); then a SlurmPollError says what is left running
 * (the last tasks squeue listed) and how to cancel it.
 */
export async function pollSqueue(
  jobId: string,
  slurm: Pick<RunnerConfig["slurm"], "pollSeconds" | "pollRetries">,
  o: { log: (l: string) => void; lastSeen: string[]; submitted: string; interrupted?: () => boolean },
): Promise<string[] | null> {
  for (let retry = 0; ; retry++) {
    const q = await execa("squeue", ["-h", "-j", jobId, "-o", "%i %T"], { reject: false, timeout: SQUEUE_TIMEOUT_MS });
    // A job that left the queue long ago is unknown to squeue: none of its tasks is left.
    if (q.exitCode === 0 || /Invalid job id/i.test(String(q.stderr))) return q.exitCode === 0 ? String(q.stdout).trim().split("\n").filter(Boolean) : [];
    const why = q.timedOut ? `no answer in ${SQUEUE_TIMEOUT_MS / 1000} s` : String(q.stderr).trim().split("\n")[0] || `exit code ${q.exitCode}`;
    if (retry >= slurm.pollRetries) {
      const left = o.lastSeen.length ? o.lastSeen.join(", ") : `tasks ${o.submitted} as submitted (squeue never listed them)`;
      throw new SlurmPollError(
        [
          `--executor slurm: squeue failed ${retry + 1} time(s) in a row (last: ${why}); gave up watching job ${jobId}.`,
          `Still queued or running at the last answer: ${left}.`,
          `Nothing watches them now: cancel them with \`scancel ${jobId}\`, or let them finish and run the same command again (finished units are reused).`,
        ].join("\n"),
      );
    }
    const wait = Math.min(slurm.pollSeconds * 2 ** (retry + 1), MAX_BACKOFF_SECONDS);
    o.log(`slurm: squeue failed (${why}); retry ${retry + 1}/${slurm.pollRetries} in ${wait} s`);
    await Bun.sleep(wait * 1000);
    if (o.interrupted?.()) return null;
  }
}

/**
 * Runs units as sbatch job arrays, one array per wave of units whose dependencies are
 * complete. Polls squeue until a wave's tasks have left the queue, then reads the run
 * store: units without a result are resubmitted until maxAttempts, then reported
 * failed (their dependents blocked), their last task's log in o.logs. Ctrl-C cancels
 * the submitted job.
 */
export async function runSlurm(
  units: Unit<unknown>[],
  store: RunStore,
  cfg: RunnerConfig,
  o: { log: (l: string) => void; logs?: Map<string, string>; pack?: number; packKeys?: ReadonlyMap<string, string | null> },
): Promise<Map<string, UnitState>> {
  if (!(await sbatchAvailable()))
    throw new ConfigError("--executor slurm needs sbatch and squeue on PATH (run from a Slurm login node, or use --executor local)");
  const state = new Map<string, UnitState>(units.map((u) => [u.id, store.isDone(u.id) ? "done" : "pending"]));
  const logDir = join(resolve(cfg.runsDir), ".slurm");
  mkdirSync(logDir, { recursive: true });
  let current: string | null = null;
  // Submissions count too: a task that dies before its worker starts records no attempt.
  const submitted = new Map<string, number>();
  // Each unit's last task log (.slurm/<jobid>_<task>.out), for the failure message.
  const logs = o.logs ?? new Map<string, string>();
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
      // One line per worker: a unit, or a pack of them (comma-separated ids the worker trains as one).
      const lines = groupIntoPacks(ready, o.pack ?? 1, o.packKeys ?? new Map());
      writeFileSync(manifest, lines.map((p) => p.map((u) => u.id).join(",")).join("\n") + "\n");
      const script = join(logDir, `${stamp}.sbatch`);
      writeFileSync(
        script,
        sbatchScript({
          name: "pruning-harness",
          count: lines.length,
          manifest,
          runsDir: cfg.runsDir,
          logDir,
          slurm: cfg.slurm,
          staleLockSeconds: cfg.staleLockSeconds,
          jobsPerGpu: cfg.jobsPerGpu,
          replyTimeout: cfg.replyTimeout,
        }),
      );
      // From the repo root: the tasks start in $SLURM_SUBMIT_DIR.
      const sub = await execa("sbatch", ["--parsable", script], { reject: false, cwd: REPO_ROOT });
      // Usually no reachable controller or a bad resource request: the same every retry.
      if (sub.exitCode !== 0)
        throw new ConfigError(
          `--executor slurm: sbatch refused the job: ${String(sub.stderr).trim().split("\n")[0]} (check the cluster with \`sinfo\`, or the --slurm-* flags)`,
        );
      current = String(sub.stdout).trim().split(";")[0]!;
      const { k, tasks } = arrayShape(lines.length, cfg.jobsPerGpu);
      lines.forEach((p, i) => {
        for (const u of p) {
          submitted.set(u.id, (submitted.get(u.id) ?? 0) + 1);
          logs.set(u.id, taskLog(logDir, current!, Math.floor(i / k)));
        }
      });
      o.log(`slurm: submitted job array ${current} with ${tasks} task(s) (script ${script})`);
      let lastSeen: string[] = [];
      while (!interrupted) {
        await Bun.sleep(cfg.slurm.pollSeconds * 1000);
        const left = await pollSqueue(current, cfg.slurm, { log: o.log, lastSeen, submitted: `${current}_[0-${tasks - 1}]`, interrupted: () => interrupted });
        if (left === null) break;
        lastSeen = left;
        o.log(
          `slurm: job ${current}: ${left.length} task(s) queued or running; ${units.filter((u) => store.isDone(u.id)).length}/${units.length} units complete`,
        );
        if (left.length === 0) break;
      }
      current = null;
      for (const u of ready) {
        if (store.isDone(u.id)) state.set(u.id, "done");
        else if (Math.max(store.attempts(u.id), submitted.get(u.id) ?? 0) >= cfg.maxAttempts) {
          state.set(u.id, "failed");
          o.log(`slurm: ${u.label ?? u.id} failed after ${cfg.maxAttempts} attempt(s); its last task's log: ${logs.get(u.id)}`);
        }
        // else stays pending: resubmitted in the next wave
      }
    }
    if (interrupted) throw new Interrupted("interrupted: the Slurm job was cancelled; run the same command again to resume");
    return state;
  } finally {
    process.off("SIGINT", onSigint);
  }
}

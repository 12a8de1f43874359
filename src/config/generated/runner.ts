/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */

/**
 * Where and how units of work run: the run store, the executor and its resources.
 */
export interface RunnerConfig {
  /**
   * Run store: one directory per unit, named by the hash of its normalised spec.
   */
  runsDir: string;
  /**
   * local: a pool of worker processes on this machine; slurm: sbatch job arrays.
   */
  executor: "local" | "slurm";
  /**
   * Units run at once (local executor). 0 = one per core.
   */
  jobs: number;
  /**
   * Engine threads per worker. 0 = automatic: cores divided by the number of units that can run at that moment (at most jobs), so jobs x threads = cores and a lone unit gets every core. Set it for bit-identical results across reruns (thread count changes float summation order).
   */
  threadsPerJob: number;
  /**
   * GPUs the local executor places units on (CUDA device indices): each worker sees one of them as its only GPU (CUDA_VISIBLE_DEVICES), the least busy first. Empty: no placement; workers see every GPU.
   */
  gpus: string[];
  /**
   * Workers sharing one GPU at once: a small model leaves a GPU mostly idle, so several runs on one GPU finish more images per second in total (see reports/train-throughput-gpu.md). With gpus set and jobs 0, jobs = GPUs x jobsPerGpu. On Slurm: units run side by side in one array task (sharing its --slurm-gpus and its CPUs).
   */
  jobsPerGpu: number;
  /**
   * Units per worker trained as one pack: units that differ only in seed, masks and start weights (the same training config otherwise, e.g. a phase diagram's retraining cells) train K at a time in one process (src/train/pack-loop.ts), each keeping its own id, checkpoint, record and resume. 1: one unit per worker. auto: the pack size whose packed bench:train row (the throughput file's packs) for the units' engine, model and batch gives the most images/s, if that beats K=1 by packMinGain; else 1. Applies to the local pool (with or without --gpus) and to Slurm array tasks (one manifest line per pack).
   */
  pack: number | "auto";
  /**
   * pack=auto packs only where the measured best pack is at least this many times K=1's images/s (a smaller gain is within this machine's timing noise).
   */
  packMinGain: number;
  /**
   * Attempts per unit before it is reported failed (a killed or crashed worker counts as one).
   */
  maxAttempts: number;
  /**
   * Watchdog of the torch engine: a request to its Python process that gets no reply within baseSeconds + secondsPerImage x the images it carries (a hung CUDA kernel, a stopped process) kills that process and fails the attempt, which resumes from the unit's last checkpoint. Generous by default: a slow machine is not a hang.
   */
  replyTimeout: {
    /**
     * Seconds any request may take (the first CUDA step includes cuDNN autotuning and lazy initialisation).
     */
    baseSeconds: number;
    /**
     * Further seconds per image of the request's batch (0.25: a machine slower than 4 images/s is taken for a hang).
     */
    secondsPerImage: number;
  };
  /**
   * A lock whose heartbeat is older than this is taken over (locks of dead processes on this host are taken over at once).
   */
  staleLockSeconds: number;
  /**
   * The bench:train record (train-throughput.json) the planner's compute estimate reads. Absent: train-throughput.json and train-throughput-gpu.json from the report directory where they exist there, else from the repository's reports/.
   */
  throughputFile?: string;
  slurm: {
    /**
     * sbatch --partition (default: the cluster's default partition).
     */
    partition?: string;
    /**
     * sbatch --cpus-per-task; also the engine threads of each task.
     */
    cpusPerTask: number;
    /**
     * sbatch --gpus-per-task (omit for CPU-only tasks).
     */
    gpus?: number;
    /**
     * sbatch --mem.
     */
    memory: string;
    /**
     * sbatch --time per task (minutes, mm:ss, hh:mm:ss, d-hh, d-hh:mm or d-hh:mm:ss). Checked against the planner's estimate of the longest unit.
     */
    time: string;
    /**
     * How often squeue is polled.
     */
    pollSeconds: number;
    /**
     * Failed squeue polls in a row (an error or a timeout of the controller) retried before the runner gives up; the wait before retry i is pollSeconds x 2^i, at most 300 s (default 5 retries: about 10 minutes at pollSeconds 10). On giving up, the runner prints the job that is left running and how to cancel it, and exits 3.
     */
    pollRetries: number;
    /**
     * More sbatch arguments, verbatim, one #SBATCH line each (--slurm-extra, repeatable), e.g. --account=abc.
     */
    extraArgs: string[];
  };
}

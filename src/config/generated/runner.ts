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
   * Attempts per unit before it is reported failed (a killed or crashed worker counts as one).
   */
  maxAttempts: number;
  /**
   * A lock whose heartbeat is older than this is taken over (locks of dead processes on this host are taken over at once).
   */
  staleLockSeconds: number;
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
     * sbatch --time per task.
     */
    time: string;
    /**
     * How often squeue is polled.
     */
    pollSeconds: number;
    /**
     * More sbatch arguments, verbatim.
     */
    extraArgs: string[];
  };
}

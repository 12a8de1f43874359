/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */

/**
 * The result of one unit of work in the run store (runs/<unit-id>/result.json). Reports are built from these records only.
 */
export interface UnitRecord {
  /**
   * <kind>-<12 hex digits of the SHA-256 of the normalised unit spec>.
   */
  unitId: string;
  /**
   * Registered unit kind that produced the record.
   */
  kind: string;
  /**
   * done, or diverged (non-finite loss; the epoch and step are in metrics).
   */
  status: "done" | "diverged";
  /**
   * Human-readable name of the unit.
   */
  label?: string;
  /**
   * The unit's resolved configuration.
   */
  config: {
    [k: string]: unknown;
  };
  /**
   * Ids of the units whose outputs this one read.
   */
  deps: string[];
  env: {
    engine: string;
    /**
     * Execution provider or backend actually used.
     */
    provider: string;
    threads: number;
    host: string;
    commit: string;
    runtime: {
      [k: string]: string;
    };
    /**
     * Every trainer this unit's process created (src/engine/registry.ts): engine, provider or device, the precision it computed in, whether its numbers are deterministic (CPU kernels with fixed threads; the torch engine on CUDA only with engine.cudnnDeterministic) or not (cuDNN otherwise, GPU execution providers), and for the torch engine its versions, GPU and CUDA settings.
     */
    trainers?: {
      engine: string;
      provider: string;
      /**
       * fp32, tf32 or bf16 (engine.precision) as the trainer computed: fp32 for the ONNX and TF.js engines, the torch server's effective value on its device. Records written before the setting existed hold fp32, which is what every engine computed then (the torch server turned TF32 off).
       */
      precision: string;
      deterministic: boolean;
      /**
       * torch engine: whether full-size training batches ran as a captured CUDA graph (false on the CPU).
       */
      cudaGraphs?: boolean;
      /**
       * torch engine: whether activations and conv weights were NHWC (channels-last) on CUDA.
       */
      channelsLast?: boolean;
      /**
       * torch engine: whether cuDNN was restricted to deterministic algorithms (engine.cudnnDeterministic).
       */
      cudnnDeterministic?: boolean;
      /**
       * Set when engine.name=auto chose this trainer's engine: which and why (no GPU, a measured probe's numbers, or the probe turned off).
       */
      autoPick?: string;
      /**
       * Set when engine auto (or provider/device auto) tried a GPU and trains on the CPU instead: what was tried and why it was refused. A GPU the user asked for explicitly never falls back: its failure is an error.
       */
      fallback?: string;
      torch?: {
        version: string;
        python: string;
        gpu: string | null;
        cudnn: number | null;
      };
    }[];
    /**
     * Checks of non-CPU execution providers against the CPU EP that this unit's process ran before training (src/engine/provider-check.ts); absent when it trained on the CPU only.
     */
    providerChecks?: {
      provider: string;
      reference: string;
      passed: boolean;
      tolerance: number;
      worst: {
        what: string;
        relError: number;
      };
      tensorsCompared: number;
      /**
       * true: this check ran in an earlier worker on the same device slot of the same run (PRUNING_HARNESS_CHECK_CACHE) and was reused, not rerun.
       */
      reused?: boolean;
    }[];
    /**
     * The unit trained in a pack (runner.pack): the units of the pack as formed at its start, this one included (a member that diverged left it and the others went on), and how the pack computed (engine.packFormulation: grouped or loop). Absent: trained alone.
     */
    pack?: {
      members: string[];
      size: number;
      formulation: string;
    };
  };
  /**
   * ISO time the last (completing) attempt started.
   */
  startedAt: string;
  finishedAt: string;
  /**
   * Wall time of all the unit's attempts added up (the sum of attemptSeconds): an attempt that was killed counts up to its last save (the worker saves at every progress report and lock heartbeat), so a unit that crashed and resumed reports what it cost in all. Records written before attemptSeconds existed hold the completing attempt's time only.
   */
  wallSeconds: number;
  /**
   * Wall time of each attempt, first to last; the last is the completing attempt's own time. A killed attempt's is its time up to its last save (0 if it died before the first).
   */
  attemptSeconds?: number[];
  /**
   * How many attempts the unit took (resumes after kills count).
   */
  attempts?: number;
  /**
   * Kind-specific results (see the unit kind's documentation).
   */
  metrics: {
    [k: string]: unknown;
  };
}

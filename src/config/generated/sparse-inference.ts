/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */

/**
 * bun run bench:sparse-inference: inference latency and throughput of the exported dense, unstructured and structured models on onnxruntime-node.
 */
export interface SparseInferenceConfig {
  /**
   * Execution provider: auto tries CUDA and falls back to CPU with a one-line notice.
   */
  provider: "auto" | "cuda" | "cpu";
  /**
   * ORT intra-op threads (default: all cores).
   */
  threads?: number;
  /**
   * Batch size of the latency measurement (p50/p90/p99).
   */
  latencyBatch: number;
  /**
   * Batch sizes of the throughput measurements.
   */
  throughputBatches: number[];
  timing: {
    /**
     * Untimed runs before measuring, per model, batch size and round.
     */
    warmupMs: number;
    /**
     * Minimum timed duration per model, batch size and round.
     */
    minTimeMs: number;
    /**
     * Minimum timed runs per model, batch size and round.
     */
    minIterations: number;
    /**
     * Samples further than this many median absolute deviations above the median are dropped from the mean (percentiles use all samples).
     */
    outlierMads: number;
    /**
     * Rounds over all models (round-robin), each timing every model and batch size: slow drift of the machine then hits every model alike, and the spread of the dense model's per-round medians measures the run-to-run noise.
     */
    rounds: number;
  };
  /**
   * Also time each unstructured model stored with ONNX sparse initializers (values + indices), to see whether ORT exploits them.
   */
  sparseInitializers: boolean;
  verdicts: {
    /**
     * A measured speedup (geometric mean over the latency batch and the throughput batches, vs the dense model) counts as real at or above this.
     */
    minSpeedup: number;
    /**
     * Structured claim: measured speedup / theoretical (FLOP) speedup needed to say the FLOP reduction is realised.
     */
    minEfficiency: number;
    /**
     * Noise n = largest relative spread (max - min) / median of the dense model's per-round median run times over the batch sizes (with one round: (p90 - p50) / p50 at batch 1). A measured speedup x is taken to lie in [x / (1 + n), x * (1 + n)] and a claim is decided only when that whole interval is on one side of its threshold; above maxNoise every timing verdict is INCONCLUSIVE.
     */
    maxNoise: number;
  };
  /**
   * Runs of the dense and the sparsest structured model under ORT's profiler (CPU EP, largest throughput batch) for the per-op time table that explains the structured speedup (0 = skip).
   */
  profileRuns: number;
}

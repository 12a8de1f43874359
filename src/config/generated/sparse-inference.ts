/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */

/**
 * bun run bench:sparse-inference: inference latency and throughput of the exported dense, unstructured and structured models on onnxruntime-node.
 */
export interface SparseInferenceConfig {
  /**
   * Execution provider: auto tries CUDA and falls back to CPU with a one-line notice; webgpu asks for onnxruntime-node's bundled WebGPU EP (it needs a Vulkan GPU driver; without one it falls back to CPU with a notice); cpu skips the GPU probes.
   */
  provider: "auto" | "cuda" | "webgpu" | "cpu";
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
  /**
   * How each model is timed: warm-up, minimum runs and time per chunk, rounds, outlier rule
   */
  timing: {
    /**
     * Untimed runs before each chunk.
     */
    warmupMs: number;
    /**
     * Minimum timed duration of one chunk (one model, batch size and round).
     */
    minTimeMs: number;
    /**
     * Minimum timed runs of one chunk.
     */
    minIterations: number;
    /**
     * Samples further than this many median absolute deviations above the median are dropped from the trimmed mean (percentiles and medians use all samples).
     */
    outlierMads: number;
    /**
     * Rounds; in each, every model is timed once per batch size with the dense model timed between every two models, so each round gives one drift-cancelling speedup estimate per model and batch size (the median over rounds is reported).
     */
    rounds: number;
  };
  /**
   * Also time each unstructured model stored with ONNX sparse initializers (values + indices), to see whether ORT exploits them.
   */
  sparseInitializers: boolean;
  /**
   * How the claims are judged against measured noise (the report prints these)
   */
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
     * Noise n = 90th percentile of |e - 1| where e is the paired speedup estimator applied to the dense model against itself (without paired timings: the spread of the dense model's chunk medians). A measured speedup x is taken to lie in [x / (1 + n), x * (1 + n)] and a claim is decided only when that whole interval is on one side of its threshold; above maxNoise every timing verdict is INCONCLUSIVE.
     */
    maxNoise: number;
  };
  /**
   * Runs of the dense and the sparsest structured model under ORT's profiler (CPU EP, largest throughput batch) for the per-op time table that explains the structured speedup (0 = skip).
   */
  profileRuns: number;
}

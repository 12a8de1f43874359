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
     * Untimed runs before measuring, per model and batch size.
     */
    warmupMs: number;
    /**
     * Minimum timed duration per model and batch size.
     */
    minTimeMs: number;
    /**
     * Minimum timed runs per model and batch size.
     */
    minIterations: number;
    /**
     * Samples further than this many median absolute deviations above the median are dropped from the mean (percentiles use all samples).
     */
    outlierMads: number;
  };
  /**
   * Also time each unstructured model stored with ONNX sparse initializers (values + indices), to see whether ORT exploits them.
   */
  sparseInitializers: boolean;
  verdicts: {
    /**
     * A measured speedup counts as real above this (batch-1 latency or throughput, vs the dense model).
     */
    minSpeedup: number;
    /**
     * Structured claim: measured speedup / theoretical (FLOP) speedup needed to say the FLOP reduction is realised.
     */
    minEfficiency: number;
    /**
     * If the dense model's (p90 - p50) / p50 exceeds this, timings are too noisy for a verdict (INCONCLUSIVE).
     */
    maxNoise: number;
  };
}

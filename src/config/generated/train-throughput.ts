/* Generated from schemas/ by `bun run gen:types`. Do not edit by hand. */

/**
 * reports/train-throughput.json (and a GPU machine's train-throughput-gpu.json) as bench:train writes it; the dry-run planner (src/runner/plan.ts) reads the measured rows to estimate compute. Fields the planner reads are required; the rest of the record is kept as written.
 */
export interface TrainThroughputRecord {
  context: {
    date: string;
    [k: string]: unknown;
  };
  config: {
    throughput: {
      cases: {
        name: string;
        arch: string;
        width: number;
        /**
         * [C, H, W] of the timed images (absent: 3x32x32). With arch and width it gives the case's MACs per image, which scale its throughput to a model bench:train did not time.
         *
         * @minItems 3
         * @maxItems 3
         */
        inputShape?: [number, number, number];
        [k: string]: unknown;
      }[];
      [k: string]: unknown;
    };
    [k: string]: unknown;
  };
  /**
   * One row per engine/device and case; imagesPerSecond only on measured rows.
   */
  throughput: {
    case: string;
    engine: string;
    status: "measured" | "skipped";
    /**
     * Images of the one timed epoch over its wall time (batches built the way training builds them): what the planner scales.
     */
    imagesPerSecond?: number;
    /**
     * Wall seconds of the timed epoch per step, in ms (single steps are not observable when an engine trains many steps per request).
     */
    msPerStep?: number;
    /**
     * torch engine: ms per step outside the engine's own request time (JS plans, requests, pipe) plus, on the CPU, building batches on the device; null on other engines.
     */
    hostMsPerStep?: number | null;
    /**
     * hostMsPerStep / msPerStep; null on other engines.
     */
    hostShare?: number | null;
    [k: string]: unknown;
  }[];
  /**
   * Runs sharing one GPU: their images per second together.
   */
  grid?: {
    case: string;
    workers: number;
    status: "measured" | "skipped";
    imagesPerSecond?: number;
    [k: string]: unknown;
  }[];
  /**
   * Packed training rows: K models trained together, their images per second in total and per model.
   */
  packs?: {
    case: string;
    engine: string;
    formulation: "grouped" | "loop";
    size: number;
    status: "measured" | "skipped";
    imagesPerSecond?: number;
    threads?: number;
    [k: string]: unknown;
  }[];
  [k: string]: unknown;
}

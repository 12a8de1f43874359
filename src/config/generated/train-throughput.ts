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
    imagesPerSecond?: number;
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
  [k: string]: unknown;
}

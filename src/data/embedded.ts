/**
 * The Fashion-MNIST subset committed under data/fashion-mnist-subset, so the harness can
 * train and test with no network and no system packages. Regenerate it with
 * scripts/make-embedded-subset.ts.
 */
import { join } from "node:path";
import { loadFashionMnistDir } from "./fashion-mnist.ts";
import type { Dataset } from "./types.ts";

/** Resolved from this file's location so it works regardless of the process's cwd. */
export const EMBEDDED_SUBSET_DIR = join(import.meta.dir, "..", "..", "data", "fashion-mnist-subset");

export const EMBEDDED_SUBSET_SOURCE = "embedded subset (data/fashion-mnist-subset, from Debian dataset-fashion-mnist)";

export function loadEmbeddedFashionMnist(opts: { padTo?: number } = {}): Promise<Dataset> {
  return loadFashionMnistDir(EMBEDDED_SUBSET_DIR, {
    ...opts,
    name: "fashion-mnist-embedded",
    source: EMBEDDED_SUBSET_SOURCE,
  });
}

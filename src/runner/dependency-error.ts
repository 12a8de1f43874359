import { existsSync } from "node:fs";
import { join } from "node:path";
import { CheckpointError, loadCheckpoint, type Checkpoint } from "../train/checkpoint.ts";

/**
 * A complete dependency's output file is damaged or missing: the dependency, not the unit
 * that read it, must run again. The worker withdraws the dependency's completeness
 * (RunStore.invalidate) and exits EXIT.depsMissing; the pool recomputes the dependency,
 * then runs this unit. Retrying this unit alone would meet the same damage every time.
 */
export class DependencyDamaged extends Error {
  override name = "DependencyDamaged";
  constructor(
    /** The unit whose output is damaged. */
    readonly depId: string,
    readonly path: string,
    readonly reason: string,
  ) {
    super(`dependency ${depId}: ${path} is ${reason}; the dependency is recomputed, then this unit runs`);
  }
}

/** A checkpoint file a dependency wrote into its unit directory; damage or absence is a DependencyDamaged naming the dependency. */
export function loadDepCheckpoint(ctx: { dep: (id: string) => { dir: string } }, depId: string, file: string): Checkpoint {
  const path = join(ctx.dep(depId).dir, file);
  if (!existsSync(path)) throw new DependencyDamaged(depId, path, "missing");
  try {
    return loadCheckpoint(path);
  } catch (e) {
    if (e instanceof CheckpointError) throw new DependencyDamaged(depId, path, `damaged: ${e.reason}`);
    throw e;
  }
}

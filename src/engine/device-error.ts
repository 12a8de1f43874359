import { ConfigError } from "../config/load.ts";

/**
 * A GPU the user asked for (--gpus, engine.device=cuda, engine.provider=cuda|webgpu)
 * that cannot train: it did not load, or it failed its check against the CPU. A
 * settings-class error (exit 2, not retried): training on the CPU instead would run
 * tens of times longer than planned, and retrying meets the same device.
 */
export class DeviceError extends ConfigError {
  override name = "DeviceError";
}

let requiredBy: string | null = null;

/**
 * Set by a worker that the pool or a Slurm task placed on a GPU (--gpus): from then on
 * an engine that would leave this process on the CPU is an error naming `why`.
 */
export function requireGpu(why: string | null): void {
  requiredBy = why;
}

/** Who asked for a GPU for this choice of engine (a setting or --gpus), or null when the CPU is acceptable. */
export function gpuRequirement(c: { engine: string; provider?: string; device?: string }): string | null {
  if (c.engine === "onnx" && (c.provider === "cuda" || c.provider === "webgpu")) return `engine.provider=${c.provider}`;
  if (c.engine === "torch" && c.device?.startsWith("cuda")) return `engine.device=${c.device}`;
  return requiredBy;
}

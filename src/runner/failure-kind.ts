import { ConfigError } from "../config/load.ts";
import { DataError } from "../data/errors.ts";

/**
 * How a failed attempt is handled. permanent: bad settings, bad input files, a device
 * that was asked for and cannot train, the host's memory exhausted by the model's size:
 * the next attempt would fail the same way, so it is not retried. cuda-oom: the GPU's
 * memory ran out; the pool retries with fewer units on that GPU. transient: anything
 * else (a crash, a killed process), retried up to maxAttempts.
 */
export type FailureKind = "permanent" | "cuda-oom" | "transient";

const CUDA_OOM = /CUDA out of memory|OutOfMemoryError|CUDA_ERROR_OUT_OF_MEMORY|cudaErrorMemoryAllocation|CUBLAS_STATUS_ALLOC_FAILED/i;
const HOST_OOM = /out of memory|allocation failed|Invalid (typed )?array length/i;

export function failureKind(e: unknown): { kind: FailureKind; message: string } {
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof ConfigError || e instanceof DataError) return { kind: "permanent", message };
  if (CUDA_OOM.test(message)) return { kind: "cuda-oom", message };
  if (e instanceof RangeError && HOST_OOM.test(message))
    return {
      kind: "permanent",
      message: `this machine's memory cannot hold the unit (${e.name}: ${message}); reduce model.width or optim.batchSize, or run fewer units at once (--jobs)`,
    };
  return { kind: "transient", message };
}

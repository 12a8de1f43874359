/**
 * GPU placement of the local pool's workers: each worker's environment (which device it
 * sees), the least busy GPU with a free slot, fewer slots on a GPU that ran out of
 * memory, and what to do after a CUDA out-of-memory exit.
 */
import { ConfigError } from "../config/load.ts";

/**
 * The environment of a worker placed on GPU `gpu`, a --gpus number. Under a scheduler
 * that already restricted the visible GPUs (CUDA_VISIBLE_DEVICES set), --gpus numbers
 * index into that list, so a worker never gets a device the job was not given (the
 * list's entries pass through as they are: indices, UUIDs or MIG ids, in the order the
 * scheduler meant). Otherwise --gpus numbers are nvidia-smi's, which are PCI bus order:
 * CUDA is told to number them the same way (its default puts the fastest first).
 */
export function gpuEnv(gpu: string, env: Record<string, string | undefined> = process.env): Record<string, string> {
  const inherited = env.CUDA_VISIBLE_DEVICES;
  // The worker then refuses to train on the CPU (device-error.ts).
  const required = { PRUNING_HARNESS_GPU_REQUIRED: "--gpus" };
  if (inherited === undefined) return { CUDA_VISIBLE_DEVICES: gpu, CUDA_DEVICE_ORDER: "PCI_BUS_ID", ...required };
  const visible = inherited
    .split(",")
    .map((d) => d.trim())
    .filter(Boolean);
  const device = visible[Number(gpu)];
  if (device === undefined)
    throw new ConfigError(
      visible.length === 0
        ? `--gpus ${gpu}: this process may use no GPU (CUDA_VISIBLE_DEVICES is empty); leave --gpus out, or run where GPUs are assigned`
        : `--gpus ${gpu}: this job was given ${visible.length} GPU(s) (CUDA_VISIBLE_DEVICES=${inherited}), which --gpus numbers 0..${visible.length - 1}`,
    );
  return { CUDA_VISIBLE_DEVICES: device, ...required };
}

/**
 * The GPU a new worker goes to: the least busy one with a free slot (ties: the first
 * listed), or null when all are full. `caps` lowers a GPU's slots below perGpu (after it
 * ran out of memory).
 */
export function pickGpu(gpus: string[], busy: ReadonlyMap<string, number>, perGpu: number, caps: ReadonlyMap<string, number> = new Map()): string | null {
  let best: string | null = null;
  for (const g of gpus) {
    const n = busy.get(g) ?? 0;
    if (n < Math.min(perGpu, caps.get(g) ?? perGpu) && (best === null || n < (busy.get(best) ?? 0))) best = g;
  }
  return best;
}

/**
 * What the pool does after a unit ran out of GPU memory with `sharing` workers on its
 * GPU (itself included): retry it with fewer workers on that GPU when it shared it;
 * when it had the GPU to itself, fewer jobs cannot help, so fail and say what to change.
 */
export function cudaOomStep(id: string, gpu: string | undefined, sharing: number, attemptsUsed: boolean): { retry: boolean; cap?: number; detail: string } {
  const change = "reduce optim.batchSize or model.width, or use a GPU with more memory";
  if (gpu !== undefined && sharing > 1 && !attemptsUsed)
    return { retry: true, cap: sharing - 1, detail: `CUDA out of memory with ${sharing} units on GPU ${gpu}; retrying with at most ${sharing - 1} there` };
  if (gpu !== undefined && sharing > 1)
    return {
      retry: false,
      detail: `CUDA out of memory with ${sharing} units on GPU ${gpu}, and no attempts left: run fewer at once (--jobs-per-gpu ${sharing - 1}) or ${change}`,
    };
  return {
    retry: false,
    detail: `CUDA out of memory${gpu !== undefined ? ` with GPU ${gpu} to itself` : ""}: ${gpu === undefined ? "run fewer units at once (--jobs), or " : ""}${change} (unit ${id})`,
  };
}

/** The GPUs workers go to, how many each holds now, and the most that shared one with each running worker. */
export class GpuSlots {
  private readonly busy = new Map<string, number>();
  private readonly gpuOf = new Map<string, string>();
  /** GPUs that ran out of memory hold fewer workers from then on (at least one). */
  private readonly caps = new Map<string, number>();
  private readonly peakSharing = new Map<string, number>();
  /** Worked out once; a --gpus number the job was not given fails here, before any worker starts. */
  private readonly envs: Map<string, Record<string, string>>;

  constructor(
    readonly gpus: string[],
    private readonly perGpu: number,
  ) {
    this.envs = new Map(gpus.map((g) => [g, gpuEnv(g)]));
  }

  /** Whether workers are placed at all (--gpus given). */
  get placing(): boolean {
    return this.gpus.length > 0;
  }

  pick(): string | null {
    return pickGpu(this.gpus, this.busy, this.perGpu, this.caps);
  }

  env(gpu: string): Record<string, string> {
    return this.envs.get(gpu)!;
  }

  /** Worker `id` starts on `gpu`: every worker there has shared it with this many at least. */
  take(id: string, gpu: string): void {
    this.gpuOf.set(id, gpu);
    this.busy.set(gpu, (this.busy.get(gpu) ?? 0) + 1);
    for (const [other, g] of this.gpuOf) if (g === gpu) this.peakSharing.set(other, Math.max(this.peakSharing.get(other) ?? 0, this.busy.get(gpu)!));
  }

  /** Worker `id` ended: its GPU (if placed) and the most workers that shared it while it ran, itself included. */
  release(id: string): { gpu: string | undefined; sharing: number } {
    const gpu = this.gpuOf.get(id);
    const sharing = this.peakSharing.get(id) ?? 0;
    this.peakSharing.delete(id);
    if (gpu !== undefined) {
      this.gpuOf.delete(id);
      this.busy.set(gpu, this.busy.get(gpu)! - 1);
    }
    return { gpu, sharing };
  }

  /** At most `n` workers on `gpu` from now on. */
  cap(gpu: string, n: number): void {
    this.caps.set(gpu, Math.min(n, this.caps.get(gpu) ?? n));
  }
}

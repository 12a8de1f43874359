import type { ModelSpec } from "../../models/spec.ts";
import { prunableLayers } from "../../models/spec.ts";
import type { Batch, GradientResult, ModelState, StepResult, Tensors, Trainer, TrainerOptions } from "../types.ts";
import { TorchProcess, type WireTensor } from "./torch-process.ts";

export interface TorchTrainerOptions extends TrainerOptions {
  /** A Python that imports torch (see detect.ts). */
  python: string;
  /** "auto" (CUDA when torch sees it, else cpu), "cpu", "cuda" or "cuda:N". */
  device: string;
}

/** What the server reported about itself: goes into the unit's record. */
export interface TorchInfo {
  device: string;
  deterministic: boolean;
  threads: number;
  torch: string;
  python: string;
  cudnn: number | null;
  gpu: string | null;
}

/**
 * The model trained by PyTorch in a long-lived Python process (server.py), built from
 * the same ModelSpec as the other engines. Weights, momentum and BN statistics stay on
 * the device between steps; `state` fetches them when read after a step and sends
 * them when assigned, and masks are sent when a layer's mask is replaced. So a training
 * step moves only the batch in and two numbers out.
 */
export class TorchTrainer implements Trainer {
  readonly engine = "torch" as const;
  readonly provider: string;
  readonly masks: Tensors;
  private mirror: ModelState;
  private stale = false;
  private readonly dirtyMasks = new Set<string>();

  private constructor(
    readonly spec: ModelSpec,
    private readonly proc: TorchProcess,
    readonly info: TorchInfo,
    state: ModelState,
    maskedParams: string[],
  ) {
    this.provider = info.device;
    this.mirror = state;
    const masks: Tensors = Object.fromEntries(maskedParams.map((p) => [p, new Float32Array(state.params[p]!.length).fill(1)]));
    const dirty = this.dirtyMasks;
    // Callers replace a layer's mask (`trainer.masks[l] = m`) as with the other engines; the proxy notes which to send.
    this.masks = new Proxy(masks, {
      set(target, key, value) {
        if (typeof key === "string" && !(key in target)) throw new Error(`mask ${key}: not a masked parameter of this trainer`);
        (target as Record<string | symbol, unknown>)[key] = value;
        if (typeof key === "string") dirty.add(key);
        return true;
      },
    });
  }

  static async create(o: TorchTrainerOptions, state: ModelState): Promise<TorchTrainer> {
    const proc = await TorchProcess.start(o.python);
    try {
      const maskedParams = o.maskedParams ?? prunableLayers(o.spec).map((l) => l.name);
      const r = proc.request({ op: "init", spec: o.spec, maskedParams, sgd: o.sgd, bn: o.bn, device: o.device, threads: o.threads ?? 0 });
      const info = { ...(r.header as Omit<TorchInfo, "python">), python: proc.python };
      const t = new TorchTrainer(o.spec, proc, info, state, maskedParams);
      t.push(state);
      return t;
    } catch (e) {
      proc.kill();
      throw e;
    }
  }

  get state(): ModelState {
    if (this.stale) {
      const r = this.proc.request({ op: "get-state" });
      const group = (g: string) => Object.fromEntries([...r.tensors].filter(([k]) => k.startsWith(`${g}/`)).map(([k, v]) => [k.slice(g.length + 1), v]));
      this.mirror = { params: group("params"), momentum: group("momentum"), buffers: group("buffers") };
      this.stale = false;
    }
    return this.mirror;
  }

  set state(s: ModelState) {
    this.push(s);
  }

  private push(s: ModelState): void {
    const tensors: WireTensor[] = [];
    for (const [group, ts] of [
      ["params", s.params],
      ["momentum", s.momentum],
      ["buffers", s.buffers],
    ] as const) {
      for (const [k, v] of Object.entries(ts)) tensors.push({ name: `${group}/${k}`, data: v, shape: [v.length] });
    }
    this.proc.request({ op: "set-state" }, tensors);
    this.mirror = s;
    this.stale = false;
  }

  private syncMasks(): void {
    if (this.dirtyMasks.size === 0) return;
    this.proc.request(
      { op: "set-masks" },
      [...this.dirtyMasks].map((k) => ({ name: k, data: this.masks[k]!, shape: [this.masks[k]!.length] })),
    );
    this.dirtyMasks.clear();
  }

  private inputs(x: Float32Array, size: number, y?: ArrayLike<number>): WireTensor[] {
    const [c, h, w] = this.spec.inputShape;
    const out: WireTensor[] = [{ name: "x", data: x.subarray(0, size * c * h * w), shape: [size, c, h, w] }];
    if (y) out.push({ name: "y", data: Int32Array.from({ length: size }, (_, i) => y[i]!), shape: [size] });
    return out;
  }

  async trainStep(batch: Batch, lr: number): Promise<StepResult> {
    this.syncMasks();
    const r = this.proc.request({ op: "train-step", lr }, this.inputs(batch.x, batch.size, batch.y));
    this.stale = true;
    return { loss: r.header.loss as number, correct: r.header.correct as number };
  }

  async gradients(batch: Batch): Promise<GradientResult> {
    this.syncMasks();
    const r = this.proc.request({ op: "gradients" }, this.inputs(batch.x, batch.size, batch.y));
    const grads: Tensors = {},
      buffers: Tensors = {};
    for (const [k, v] of r.tensors) {
      if (k.startsWith("grads/")) grads[k.slice(6)] = v;
      else buffers[k.slice(8)] = v;
    }
    return { loss: r.header.loss as number, correct: r.header.correct as number, grads, buffers };
  }

  async predict(x: Float32Array, size: number): Promise<Float32Array> {
    this.syncMasks();
    return this.proc.request({ op: "predict" }, this.inputs(x, size)).tensors.get("logits")!;
  }

  async batchStats(x: Float32Array, size: number): Promise<Tensors> {
    this.syncMasks();
    const r = this.proc.request({ op: "batch-stats" }, this.inputs(x, size));
    return Object.fromEntries([...r.tensors].map(([k, v]) => [k.slice("stats/".length), v]));
  }

  async dispose(): Promise<void> {
    this.proc.close();
  }
}

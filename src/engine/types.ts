import type { ModelSpec } from "../models/spec.ts";

export type Tensors = Record<string, Float32Array>;

/** Everything that changes during training. Copies in, copies out: engines own no hidden state. */
export interface ModelState {
  params: Tensors;
  /** BN running statistics. */
  buffers: Tensors;
  /** SGD momentum buffers, one per parameter. */
  momentum: Tensors;
}

export interface Batch {
  /** NCHW, normalised. */
  x: Float32Array;
  /** Class indices. */
  y: ArrayLike<number>;
  size: number;
}

export interface TrainerOptions {
  spec: ModelSpec;
  /** Parameters multiplied by a 0/1 mask in the forward pass (default: every conv weight). */
  maskedParams?: string[];
  sgd: { momentum: number; weightDecay: number };
  bn: { eps: number; momentum: number };
  /** CPU threads for the engine's kernels (intra-op). */
  threads?: number;
  /** ONNX engine on the CPU EP: run convolutions on ORT's blocked-layout kernels (default true). */
  blockedConv?: boolean;
}

export interface StepResult {
  loss: number;
  /** Correct top-1 predictions in the batch (training mode). */
  correct: number;
}

export interface GradientResult {
  loss: number;
  /** d loss / d (parameter as used in the forward pass): for masked layers, the masked weight. */
  grads: Tensors;
  /** BN running statistics after this batch, as a training step would leave them (not applied). */
  buffers: Tensors;
  /** Correct top-1 predictions in the batch (training mode). */
  correct: number;
}

/**
 * One engine instance trains one model architecture. All methods are synchronous in
 * effect but return promises because GPU providers may complete asynchronously.
 */
export interface Trainer {
  readonly engine: EngineName;
  /** Execution provider / backend actually in use, e.g. "cpu", "webgpu", "cuda", "tfjs-cpu". */
  readonly provider: string;
  readonly spec: ModelSpec;
  state: ModelState;
  /** 0/1 masks of maskedParams; all ones until set. */
  masks: Tensors;
  /** One SGD step on a batch; updates `state`. */
  trainStep(batch: Batch, lr: number): Promise<StepResult>;
  /** Loss and gradients on a batch, BN in training mode; `state` is unchanged. */
  gradients(batch: Batch): Promise<GradientResult>;
  /** Logits with BN on running statistics, [size, numClasses] row-major. */
  predict(x: Float32Array, size: number): Promise<Float32Array>;
  /**
   * Training-mode forward: every BN's batch mean and unbiased variance, keyed by the
   * running-statistic buffer they estimate (bn.running_mean / bn.running_var).
   */
  batchStats(x: Float32Array, size: number): Promise<Tensors>;
  dispose(): Promise<void>;
}

export type EngineName = "onnx" | "tfjs" | "torch";

export function oneHot(y: ArrayLike<number>, size: number, numClasses: number): Float32Array {
  const out = new Float32Array(size * numClasses);
  for (let i = 0; i < size; i++) {
    const c = y[i]!;
    if (!(c >= 0 && c < numClasses)) throw new Error(`label ${c} at index ${i} outside [0, ${numClasses})`);
    out[i * numClasses + c] = 1;
  }
  return out;
}

export function countCorrect(logits: Float32Array, y: ArrayLike<number>, size: number, numClasses: number): number {
  let correct = 0;
  for (let i = 0; i < size; i++) {
    let best = 0;
    for (let k = 1; k < numClasses; k++) if (logits[i * numClasses + k]! > logits[i * numClasses + best]!) best = k;
    if (best === y[i]) correct++;
  }
  return correct;
}

export function cloneTensors(t: Tensors): Tensors {
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.slice()]));
}

export function cloneState(s: ModelState): ModelState {
  return { params: cloneTensors(s.params), buffers: cloneTensors(s.buffers), momentum: cloneTensors(s.momentum) };
}

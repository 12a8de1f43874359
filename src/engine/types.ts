import type { BatchPlan } from "../data/batches.ts";
import type { Split } from "../data/types.ts";
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
  /**
   * ONNX engine: this session takes turns with others in the process (a pack), so its
   * thread pool must not spin-wait after each run on the cores the next session needs
   * (measured: two spinning sessions in turn trained at 0.71x one).
   */
  takesTurns?: boolean;
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

/** A uint8 split an engine keeps on its device, to build batches there from plans (BatchPlan). */
export interface ResidentSplit extends Split {
  /** C, H, W of one image. */
  shape: readonly [number, number, number];
  /** Per channel, the normalised value of each byte (normalisationLut): C x 256. */
  lut: Float32Array;
  /** Zero padding the plans' crop shifts assume. */
  cropPadding: number;
}

/** Consecutive training steps on batches of a resident split. */
export interface StepsRequest {
  /** The loaded split (ResidentTraining.loadSplit) the batches come from. */
  slot: string;
  /** One per step, in order. */
  plans: BatchPlan[];
  lr: number;
  /** A SAM step (src/train/sam.ts) with this rho and base SGD instead of a plain one. */
  sam?: { rho: number; momentum: number; weightDecay: number };
}

export interface StepsResult {
  /** Per step done, in order; the steps stop after the first non-finite loss. */
  losses: Float32Array;
  correct: Float32Array;
  /** Where the engine times itself: seconds inside the engine for the whole request, and building batches (CPU only). */
  timing?: { seconds: number; buildSeconds: number | null };
}

/** BiP's upper level, handed to an engine that runs BiP iterations itself (src/train/bip-loop.ts has the semantics). */
export interface BipSetup {
  /** Scored (masked) layers, in the loop's order. */
  layers: string[];
  /** One per weight, or per output filter when structured. */
  scores: Tensors;
  structured: boolean;
  /** Scores the top-k keeps: one global count, or per layer when structured. */
  keep: number | Record<string, number>;
  hyper: {
    variant: { kind: "paper"; gamma: number } | { kind: "code"; lr2: number };
    thetaL2: "weight-decay" | "gamma";
    gamma: number;
    weightDecay: number;
    momentum: number;
    maskMomentum: number;
    scoreWeightDecay: number;
  };
}

/** Consecutive BiP iterations: a theta-step on one batch and a mask-step on another each. */
export interface BipStepsRequest {
  slot: string;
  thetaPlans: BatchPlan[];
  maskPlans: BatchPlan[];
  thetaLrs: number[];
  maskLrs: number[];
}

/**
 * Optional: an engine that keeps the data on its device trains many steps per request
 * and builds each batch itself, bit-identical to BatchLoader.batch, so the host is out
 * of the loop of every step (the torch engine; the ONNX engine runs in this process and
 * gains nothing from it).
 */
export interface ResidentTraining {
  /** Steps a caller puts in one request (progress and divergence are seen per request). */
  readonly stepsPerRequest: number;
  /** Sends `split` once; a no-op when the slot already holds these arrays and settings. */
  loadSplit(slot: string, split: ResidentSplit): void;
  trainSteps(r: StepsRequest): Promise<StepsResult>;
  /** BiP with scores on the device: set them up, then run iterations; `masks` follows the scores after each request. */
  bipStart?(setup: BipSetup): void;
  /** Losses and correct counts of each iteration's theta-step. */
  bipSteps?(r: BipStepsRequest): Promise<StepsResult>;
  /** The scores as the iterations left them. */
  bipScores?(): Tensors;
  /** Logits (BN on running statistics) of images [start, start + count) of a loaded split, unaugmented. */
  predictSplit(slot: string, start: number, count: number): Promise<Float32Array>;
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
  /** The arithmetic it computes in (engine.precision); absent: fp32. */
  readonly precision?: string;
  /** Present when the engine can hold the data and train many steps per request. */
  readonly resident?: ResidentTraining;
}

/** One model of a pack: what it starts from, and what `PackTrainer.member` reads back. */
export interface PackMember {
  state: ModelState;
  /** 0/1 masks of the masked parameters (absent ones: all ones). */
  masks: Tensors;
}

/** Per member, the outcome of consecutive steps of a pack (one row per member). */
export interface PackStepsResult {
  /** Steps done: every member stops after the first step where any member's loss is not finite. */
  steps: number;
  /** [member][step]. */
  losses: Float32Array[];
  correct: Float32Array[];
  timing?: StepsResult["timing"];
}

/** Resident training for a pack: each member's batches built on the device from its own plans. */
export interface PackResidentTraining {
  readonly stepsPerRequest: number;
  loadSplit(slot: string, split: ResidentSplit): void;
  /** plans[member][step]: the members' batches of each step have one size. */
  trainSteps(r: { slot: string; plans: BatchPlan[][]; lr: number }): Promise<PackStepsResult>;
  /** Logits of the same images [start, start + count) through every member, one array per member. */
  predictSplit(slot: string, start: number, count: number): Promise<Float32Array[]>;
}

/**
 * K models of one spec and training config, trained together: each member its own
 * weights, masks and batches, one step of all members at a time (src/train/pack-loop.ts).
 * "grouped" packs compute the K models as one (torch: grouped convolutions); "loop"
 * packs step K ordinary trainers in turn, for engines where one model of K groups is
 * not faster (bench:train says which).
 */
export interface PackTrainer {
  readonly engine: EngineName;
  readonly provider: string;
  readonly precision?: string;
  readonly spec: ModelSpec;
  readonly size: number;
  readonly formulation: "grouped" | "loop";
  /** Member k's state and masks as training left them (fetched from the device when needed). */
  member(k: number): PackMember;
  /** One SGD step of every member, member k on batches[k]. */
  trainStep(batches: Batch[], lr: number): Promise<StepResult[]>;
  /** Logits of the same images through every member (BN on running statistics). */
  predict(x: Float32Array, size: number): Promise<Float32Array[]>;
  readonly resident?: PackResidentTraining;
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

import type { BatchPlan } from "../../data/batches.ts";
import type { Labels } from "../../data/types.ts";
import type { EngineConfig } from "../../config/generated/training.ts";
import type { ModelSpec } from "../../models/spec.ts";
import { prunableLayers } from "../../models/spec.ts";
import type {
  Batch,
  GradientResult,
  ModelState,
  BipSetup,
  BipStepsRequest,
  ResidentSplit,
  ResidentTraining,
  StepResult,
  StepsRequest,
  StepsResult,
  Tensors,
  Trainer,
  TrainerOptions,
} from "../types.ts";
import { TorchProcess, type WireTensor } from "./torch-process.ts";

export interface TorchTrainerOptions extends TrainerOptions {
  /** A Python that imports torch (see detect.ts). */
  python: string;
  /** "auto" (CUDA when torch sees it, else cpu), "cpu", "cuda" or "cuda:N". */
  device: string;
  /** engine.precision (default fp32); the server reports what it applied on its device. */
  precision?: EngineConfig["precision"];
  /** engine.cudaGraphs (default true): full-size training batches replayed from a captured CUDA graph. */
  cudaGraphs?: boolean;
  /** engine.channelsLast (default false): NHWC activations and conv weights on CUDA. */
  channelsLast?: boolean;
  /** engine.cudnnDeterministic (default false): deterministic cuDNN algorithms, benchmark off. */
  cudnnDeterministic?: boolean;
  /** engine.stepsPerRequest (default 64): training steps per round trip to the server. */
  stepsPerRequest?: number;
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
  /** Effective settings: on the CPU, e.g., cudaGraphs is false whatever was asked. */
  precision: string;
  cudaGraphs: boolean;
  channelsLast: boolean;
  cudnnDeterministic: boolean;
}

/**
 * The model trained by PyTorch in a long-lived Python process (server.py), built from
 * the same ModelSpec as the other engines. Weights, momentum and BN statistics stay on
 * the device between steps; `state` fetches them when read after a step and sends
 * them when assigned, and masks are sent when a layer's mask is replaced. So a training
 * step moves only the batch in and two numbers out.
 */
export class TorchTrainer implements Trainer, ResidentTraining {
  readonly engine = "torch" as const;
  readonly provider: string;
  /** What the provider check's tolerance is chosen by (provider-check.ts). */
  readonly precision: string;
  readonly masks: Tensors;
  private mirror: ModelState;
  private stale = false;
  private readonly dirtyMasks = new Set<string>();
  /** The object behind the `masks` proxy: written directly when the masks come from the server. */
  private readonly maskTarget: Tensors;
  private readonly slots: ResidentSlots;

  private constructor(
    readonly spec: ModelSpec,
    private readonly proc: TorchProcess,
    readonly info: TorchInfo,
    state: ModelState,
    maskedParams: string[],
    readonly stepsPerRequest: number,
  ) {
    this.provider = info.device;
    this.precision = info.precision;
    this.slots = new ResidentSlots(proc);
    this.mirror = state;
    const masks: Tensors = Object.fromEntries(maskedParams.map((p) => [p, new Float32Array(state.params[p]!.length).fill(1)]));
    this.maskTarget = masks;
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
    return startTorchServer(o, 0, ({ proc, info, maskedParams }) => {
      const t = new TorchTrainer(o.spec, proc, info, state, maskedParams, o.stepsPerRequest ?? 64);
      t.push(state);
      return t;
    });
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

  get resident(): ResidentTraining {
    return this;
  }

  loadSplit(slot: string, split: ResidentSplit): void {
    this.slots.load(slot, split);
  }

  async trainSteps(r: StepsRequest): Promise<StepsResult> {
    this.syncMasks();
    const total = r.plans.reduce((a, p) => a + p.size, 0);
    const sizes = r.plans.map((p) => p.size);
    const reply = this.proc.request(
      { op: "train-steps", slot: r.slot, lr: r.lr, sizes, batchSize: Math.max(...sizes), images: r.sam ? 2 * total : total, ...(r.sam ? { sam: r.sam } : {}) },
      planColumns(r.plans),
    );
    this.stale = true;
    return {
      losses: reply.tensors.get("losses")!,
      correct: reply.tensors.get("correct")!,
      timing: { seconds: reply.header.seconds as number, buildSeconds: (reply.header.buildSeconds as number | null) ?? null },
    };
  }

  bipStart(setup: BipSetup): void {
    this.syncMasks();
    const { scores, ...rest } = setup;
    this.proc.request(
      { op: "bip-start", ...rest },
      setup.layers.map((l) => ({ name: `scores/${l}`, data: scores[l]!, shape: [scores[l]!.length] })),
    );
    this.refreshMasks();
  }

  async bipSteps(r: BipStepsRequest): Promise<StepsResult> {
    this.syncMasks();
    const images = [...r.thetaPlans, ...r.maskPlans].reduce((a, p) => a + p.size, 0);
    const reply = this.proc.request(
      {
        op: "bip-steps",
        slot: r.slot,
        thetaSizes: r.thetaPlans.map((p) => p.size),
        maskSizes: r.maskPlans.map((p) => p.size),
        thetaLrs: r.thetaLrs,
        maskLrs: r.maskLrs,
        images,
      },
      [...planColumns(r.thetaPlans, "theta."), ...planColumns(r.maskPlans, "mask.")],
    );
    this.stale = true;
    this.refreshMasks();
    return { losses: reply.tensors.get("losses")!, correct: reply.tensors.get("correct")! };
  }

  bipScores(): Tensors {
    return Object.fromEntries(this.proc.request({ op: "bip-scores" }).tensors);
  }

  /** The server changed the masks itself (BiP): copy them into `masks` without marking them to be sent back. */
  private refreshMasks(): void {
    const r = this.proc.request({ op: "get-masks" });
    const target = this.maskTarget;
    for (const [k, v] of r.tensors) target[k] = v;
  }

  /** The pixels and labels the server builds from one plan (checks compare them with BatchLoader's). */
  builtBatch(slot: string, plan: BatchPlan): { x: Float32Array; y: Float32Array } {
    const r = this.proc.request({ op: "build-batch", slot, images: plan.size }, planColumns([plan]));
    return { x: r.tensors.get("x")!, y: r.tensors.get("y")! };
  }

  async predictSplit(slot: string, start: number, count: number): Promise<Float32Array> {
    this.syncMasks();
    return this.proc.request({ op: "predict-split", slot, start, count, images: count }).tensors.get("logits")!;
  }

  async dispose(): Promise<void> {
    this.proc.close();
  }
}

/**
 * Starts a server, sets it up for `o` (pack: K models in one, server.py's
 * MODEL_OPS_PACKED; 0: one model) and builds the caller's object on it; the process is
 * killed if set-up or building fails. The info is what the server applied; a server
 * that predates a setting does not report it, and the record then says what was asked.
 */
export async function startTorchServer<T>(
  o: TorchTrainerOptions,
  pack: number,
  build: (server: { proc: TorchProcess; info: TorchInfo; maskedParams: string[] }) => T,
): Promise<T> {
  const proc = await TorchProcess.start(o.python);
  try {
    const maskedParams = o.maskedParams ?? prunableLayers(o.spec).map((l) => l.name);
    // Defaults as in schemas/training.schema.json, for callers that create a trainer directly (tests, benchmarks).
    const asked = {
      precision: o.precision ?? "fp32",
      cudaGraphs: o.cudaGraphs ?? true,
      channelsLast: o.channelsLast ?? false,
      cudnnDeterministic: o.cudnnDeterministic ?? false,
    };
    const r = proc.request({ op: "init", spec: o.spec, maskedParams, sgd: o.sgd, bn: o.bn, device: o.device, threads: o.threads ?? 0, pack, ...asked });
    const info: TorchInfo = { ...asked, ...(r.header as Partial<Omit<TorchInfo, "python">>), python: proc.python } as TorchInfo;
    return build({ proc, info, maskedParams });
  } catch (e) {
    proc.kill();
    throw e;
  }
}

/** What each resident slot of a server holds, so a split crosses the pipe once per server. */
export class ResidentSlots {
  private readonly loaded = new Map<string, { images: Uint8Array; labels: Labels; lut: string; cropPadding: number }>();
  constructor(private readonly proc: TorchProcess) {}

  /** Sends `split` unless the slot already holds these arrays and settings. */
  load(slot: string, split: ResidentSplit): void {
    const lut = Array.from(split.lut).join(",");
    const had = this.loaded.get(slot);
    if (had && had.images === split.images && had.labels === split.labels && had.lut === lut && had.cropPadding === split.cropPadding) return;
    const [c, h, w] = split.shape;
    this.proc.request({ op: "load-split", slot, cropPadding: split.cropPadding, images: split.count }, [
      { name: "images", data: split.images.subarray(0, split.count * c * h * w), shape: [split.count, c, h, w] },
      { name: "labels", data: Int32Array.from(split.labels.subarray(0, split.count)), shape: [split.count] },
      { name: "lut", data: split.lut, shape: [split.lut.length] },
    ]);
    this.loaded.set(slot, { images: split.images, labels: split.labels, lut, cropPadding: split.cropPadding });
  }
}

/** Batch plans as the server reads them: each field of all plans concatenated, as int32 tensors named prefix + field. */
export function planColumns(plans: BatchPlan[], prefix = ""): WireTensor[] {
  const total = plans.reduce((a, p) => a + p.size, 0);
  return (["indices", "shiftY", "shiftX", "mirror"] as const).map((k) => {
    const out = new Int32Array(total);
    let off = 0;
    for (const p of plans) {
      out.set(p[k], off);
      off += p.size;
    }
    return { name: prefix + k, data: out, shape: [total] };
  });
}

import type { BatchPlan } from "../../src/data/batches.ts";
import type {
  Batch,
  PackResidentTraining,
  PackStepsResult,
  PackTrainer,
  ResidentSplit,
  ResidentTraining,
  StepsRequest,
  StepsResult,
  Trainer,
} from "../../src/engine/types.ts";
import { samStep } from "../../src/train/sam.ts";

/**
 * The pixels of one planned batch of a resident split, written from the plan's documented
 * meaning (BatchPlan: out(y, x) = in(y + shiftY, x' + shiftX), x' = W-1-x when mirrored,
 * raw 0 outside the image, then each channel's lookup table), not from BatchLoader's code:
 * what an engine that holds the data computes on its device.
 */
export function batchFromPlan(split: ResidentSplit, plan: BatchPlan): Batch {
  const [C, H, W] = split.shape;
  const x = new Float32Array(plan.size * C * H * W);
  const y = new Int32Array(plan.size);
  for (let k = 0; k < plan.size; k++) {
    const img = plan.indices[k]!;
    y[k] = split.labels[img]!;
    for (let c = 0; c < C; c++)
      for (let r = 0; r < H; r++)
        for (let col = 0; col < W; col++) {
          const sr = r + plan.shiftY[k]!;
          const sc = (plan.mirror[k] === 1 ? W - 1 - col : col) + plan.shiftX[k]!;
          const raw = sr >= 0 && sr < H && sc >= 0 && sc < W ? split.images[((img * C + c) * H + sr) * W + sc]! : 0;
          x[((k * C + c) * H + r) * W + col] = split.lut[c * 256 + raw]!;
        }
  }
  return { x, y, size: plan.size };
}

/** Images [start, start + count) of a split, unaugmented. */
export function plainImages(split: ResidentSplit, start: number, count: number): Batch {
  const none = new Int16Array(count);
  return batchFromPlan(split, {
    index: 0,
    size: count,
    indices: Uint32Array.from({ length: count }, (_, i) => start + i),
    shiftY: none,
    shiftX: none,
    mirror: new Uint8Array(count),
  });
}

/** A resident engine's requests, as a test reads them back. */
export interface RecordedRequests<R> {
  requests: R[];
  loads: string[];
}

/**
 * The slots every stand-in for a resident engine keeps: the splits it was given (recorded
 * in `loads`) and evaluation as the logits of a split's unaugmented images.
 */
export function residentSlots<P>(predict: (x: Float32Array, size: number) => Promise<P>) {
  const splits = new Map<string, ResidentSplit>();
  const loaded: { slot: string; split: ResidentSplit }[] = [];
  return {
    loaded,
    split: (slot: string) => splits.get(slot)!,
    loadSplit: (slot: string, split: ResidentSplit) => {
      loaded.push({ slot, split });
      splits.set(slot, split);
    },
    predictSplit: (slot: string, start: number, count: number): Promise<P> => {
      const b = plainImages(splits.get(slot)!, start, count);
      return predict(b.x, b.size);
    },
  };
}

/**
 * `target` seen through a Proxy whose `resident` is the given capability, with `extra`'s
 * fields readable beside the target's own; writes reach the target (the loops set masks).
 */
export function withCapability<T extends object, E extends object>(target: T, resident: unknown, extra: E): T & E {
  return new Proxy(target, {
    get: (t, key) => (key === "resident" ? resident : key in extra ? extra[key as keyof E] : Reflect.get(t, key, t)),
    set: (t, key, value) => Reflect.set(t, key, value, t),
  }) as T & E;
}

/** The recorder of a stand-in: requests pushed by its trainSteps, loads read from its slots. */
function recorder<R>(slots: ReturnType<typeof residentSlots<unknown>>): RecordedRequests<R> {
  return {
    requests: [],
    get loads() {
      return slots.loaded.map((l) => l.slot);
    },
  };
}

/**
 * `t` with a resident capability that does on the host what an engine holding the data
 * does on its device: batches built from plans, `stepsPerRequest` steps per request,
 * SAM steps when asked, stopping after the first non-finite loss. It records every
 * request, so a test can check what the loops ask for.
 */
export function withHostResident(t: Trainer, stepsPerRequest: number): Trainer & RecordedRequests<StepsRequest> {
  const slots = residentSlots((x, size) => t.predict(x, size));
  const rec = recorder<StepsRequest>(slots);
  const resident: ResidentTraining = {
    stepsPerRequest,
    loadSplit: slots.loadSplit,
    predictSplit: slots.predictSplit,
    async trainSteps(r): Promise<StepsResult> {
      rec.requests.push(r);
      const losses: number[] = [],
        correct: number[] = [];
      for (const plan of r.plans) {
        const b = batchFromPlan(slots.split(r.slot), plan);
        const out = r.sam ? await samStep(t, b, r.lr, r.sam.rho, r.sam) : await t.trainStep(b, r.lr);
        losses.push(out.loss);
        correct.push(out.correct);
        if (!Number.isFinite(out.loss)) break;
      }
      return { losses: Float32Array.from(losses), correct: Float32Array.from(correct) };
    },
  };
  return withCapability(t, resident, rec);
}

/** withHostResident for a pack: member k's batch of each step built from plans[k]; every member stops after a step where any loss is not finite. */
export function withHostResidentPack(p: PackTrainer, stepsPerRequest: number): PackTrainer & RecordedRequests<{ plans: BatchPlan[][]; lr: number }> {
  const slots = residentSlots((x, size) => p.predict(x, size));
  const rec = recorder<{ plans: BatchPlan[][]; lr: number }>(slots);
  const resident: PackResidentTraining = {
    stepsPerRequest,
    loadSplit: slots.loadSplit,
    predictSplit: slots.predictSplit,
    async trainSteps(r): Promise<PackStepsResult> {
      rec.requests.push({ plans: r.plans, lr: r.lr });
      const losses: number[][] = r.plans.map(() => []),
        correct: number[][] = r.plans.map(() => []);
      let steps = 0;
      for (let s = 0; s < r.plans[0]!.length; s++) {
        const out = await p.trainStep(
          r.plans.map((plans) => batchFromPlan(slots.split(r.slot), plans[s]!)),
          r.lr,
        );
        out.forEach((o, k) => (losses[k]!.push(o.loss), correct[k]!.push(o.correct)));
        steps++;
        if (out.some((o) => !Number.isFinite(o.loss))) break;
      }
      return { steps, losses: losses.map((l) => Float32Array.from(l)), correct: correct.map((c) => Float32Array.from(c)) };
    },
  };
  return withCapability(p, resident, rec);
}

import type { BatchPlan } from "../../data/batches.ts";
import type { ModelSpec } from "../../models/spec.ts";
import type { Batch, PackMember, PackResidentTraining, PackStepsResult, PackTrainer, ResidentSplit, StepResult, Tensors } from "../types.ts";
import type { TorchProcess, WireTensor } from "./torch-process.ts";
import { planColumns, ResidentSlots, startTorchServer, type TorchInfo, type TorchTrainerOptions } from "./torch-trainer.ts";

/**
 * K models trained as one by the torch server (server.py MODEL_OPS_PACKED): grouped
 * convolutions, BN over K*C channels, a batched classifier, the loss the sum of each
 * member's mean loss. Every member keeps its own weights, momentum, BN statistics,
 * masks and batches; state crosses the pipe stacked (member-major) only when read or set.
 */
export class TorchPack implements PackTrainer, PackResidentTraining {
  readonly engine = "torch" as const;
  readonly formulation = "grouped" as const;
  readonly provider: string;
  readonly precision: string;
  private mirror: PackMember[];
  private stale = false;
  private readonly slots: ResidentSlots;

  private constructor(
    readonly spec: ModelSpec,
    private readonly proc: TorchProcess,
    readonly info: TorchInfo,
    private readonly maskedParams: string[],
    members: PackMember[],
    readonly stepsPerRequest: number,
  ) {
    this.provider = info.device;
    this.precision = info.precision;
    this.slots = new ResidentSlots(proc);
    this.mirror = members;
  }

  static async create(o: TorchTrainerOptions, members: PackMember[]): Promise<TorchPack> {
    if (members.length < 1) throw new RangeError("a pack needs at least one member");
    return startTorchServer(o, members.length, ({ proc, info, maskedParams }) => {
      const full = members.map((m) => ({ state: m.state, masks: withAllMasks(m.masks, maskedParams, m.state.params) }));
      const p = new TorchPack(o.spec, proc, info, maskedParams, full, o.stepsPerRequest ?? 64);
      p.push(full);
      return p;
    });
  }

  get size(): number {
    return this.mirror.length;
  }

  get resident(): PackResidentTraining {
    return this;
  }

  member(k: number): PackMember {
    if (this.stale) this.pull();
    const m = this.mirror[k];
    if (!m) throw new RangeError(`member ${k} of a pack of ${this.size}`);
    return m;
  }

  private push(members: PackMember[]): void {
    const tensors: WireTensor[] = [];
    const s0 = members[0]!.state;
    for (const [group, names] of [
      ["params", Object.keys(s0.params)],
      ["momentum", Object.keys(s0.momentum)],
      ["buffers", Object.keys(s0.buffers)],
    ] as const) {
      for (const n of names)
        tensors.push(
          stacked(
            `${group}/${n}`,
            members.map((m) => m.state[group][n]!),
          ),
        );
    }
    this.proc.request({ op: "set-state" }, tensors);
    this.proc.request(
      { op: "set-masks" },
      this.maskedParams.map((n) =>
        stacked(
          n,
          members.map((m) => m.masks[n]!),
        ),
      ),
    );
  }

  /** Weights, momentum and BN statistics of every member from the server (masks do not change while a pack trains). */
  private pull(): void {
    const r = this.proc.request({ op: "get-state" });
    const k = this.size;
    const next = this.mirror.map((m) => ({ state: { params: {} as Tensors, momentum: {} as Tensors, buffers: {} as Tensors }, masks: m.masks }));
    for (const [name, all] of r.tensors) {
      const slash = name.indexOf("/");
      const group = name.slice(0, slash) as "params" | "momentum" | "buffers";
      const n = all.length / k;
      for (let i = 0; i < k; i++) next[i]!.state[group][name.slice(slash + 1)] = all.slice(i * n, (i + 1) * n);
    }
    this.mirror = next;
    this.stale = false;
  }

  loadSplit(slot: string, split: ResidentSplit): void {
    this.slots.load(slot, split);
  }

  async trainSteps(r: { slot: string; plans: BatchPlan[][]; lr: number }): Promise<PackStepsResult> {
    if (r.plans.length !== this.size) throw new RangeError(`plans for ${r.plans.length} members, the pack has ${this.size}`);
    const sizes = r.plans[0]!.map((p) => p.size);
    r.plans.forEach((mp, k) => {
      if (mp.length !== sizes.length || mp.some((p, i) => p.size !== sizes[i])) throw new RangeError(`member ${k}'s batch sizes differ from member 0's`);
    });
    const total = sizes.reduce((a, b) => a + b, 0) * this.size;
    const reply = this.proc.request(
      { op: "train-steps", slot: r.slot, lr: r.lr, sizes, batchSize: Math.max(...sizes), images: total },
      r.plans.flatMap((mp, k) => planColumns(mp, `m${k}.`)),
    );
    this.stale = true;
    const steps = reply.header.steps as number;
    return {
      steps,
      losses: columns(reply.tensors.get("losses")!, steps, this.size),
      correct: columns(reply.tensors.get("correct")!, steps, this.size),
      timing: { seconds: reply.header.seconds as number, buildSeconds: (reply.header.buildSeconds as number | null) ?? null },
    };
  }

  async trainStep(batches: Batch[], lr: number): Promise<StepResult[]> {
    if (batches.length !== this.size) throw new RangeError(`batches for ${batches.length} members, the pack has ${this.size}`);
    const [c, h, w] = this.spec.inputShape;
    const size = batches[0]!.size;
    if (batches.some((b) => b.size !== size)) throw new RangeError("a pack's members step on batches of one size");
    const per = size * c * h * w;
    const x = new Float32Array(per * this.size);
    const y = new Int32Array(size * this.size);
    batches.forEach((b, k) => {
      x.set(b.x.subarray(0, per), k * per);
      for (let i = 0; i < size; i++) y[k * size + i] = b.y[i]!;
    });
    const r = this.proc.request({ op: "train-step", lr }, [
      { name: "x", data: x, shape: [this.size, size, c, h, w] },
      { name: "y", data: y, shape: [this.size, size] },
    ]);
    this.stale = true;
    const loss = r.header.loss as number[];
    const correct = r.header.correct as number[];
    return loss.map((l, k) => ({ loss: l, correct: correct[k]! }));
  }

  async predict(x: Float32Array, size: number): Promise<Float32Array[]> {
    const [c, h, w] = this.spec.inputShape;
    const logits = this.proc.request({ op: "predict" }, [{ name: "x", data: x.subarray(0, size * c * h * w), shape: [size, c, h, w] }]).tensors.get("logits")!;
    return byMember(logits, size * this.spec.numClasses, this.size);
  }

  async predictSplit(slot: string, start: number, count: number): Promise<Float32Array[]> {
    const logits = this.proc.request({ op: "predict-split", slot, start, count, images: count * this.size }).tensors.get("logits")!;
    return byMember(logits, count * this.spec.numClasses, this.size);
  }

  async dispose(): Promise<void> {
    this.proc.close();
  }
}

/** Member k's masks with every masked parameter present (ones where the member has none). */
function withAllMasks(masks: Tensors, names: string[], params: Tensors): Tensors {
  return Object.fromEntries(names.map((n) => [n, masks[n] ?? new Float32Array(params[n]!.length).fill(1)]));
}

function stacked(name: string, parts: Float32Array[]): WireTensor {
  const n = parts[0]!.length;
  const out = new Float32Array(n * parts.length);
  parts.forEach((p, i) => {
    if (p.length !== n) throw new RangeError(`${name}: member ${i} has ${p.length} values, member 0 ${n}`);
    out.set(p, i * n);
  });
  return { name, data: out, shape: [parts.length, n] };
}

/** Rows of a member-major array [K][n] (logits). */
function byMember(all: Float32Array, n: number, k: number): Float32Array[] {
  if (all.length !== n * k) throw new RangeError(`expected ${n * k} values from the server, got ${all.length}`);
  return Array.from({ length: k }, (_, i) => all.slice(i * n, (i + 1) * n));
}

/** Per member, the columns of a step-major array [steps][K] (per-step losses and counts). */
function columns(all: Float32Array, steps: number, k: number): Float32Array[] {
  if (all.length !== steps * k) throw new RangeError(`expected ${steps * k} values from the server, got ${all.length}`);
  return Array.from({ length: k }, (_, i) => Float32Array.from({ length: steps }, (_, s) => all[s * k + i]!));
}

import type { ModelSpec, Op, OpKind, OpOf } from "../../models/spec.ts";
import { prunableLayers } from "../../models/spec.ts";
import {
  countCorrect,
  oneHot,
  type Batch,
  type GradientResult,
  type ModelState,
  type StepResult,
  type Tensors,
  type Trainer,
  type TrainerOptions,
} from "../types.ts";
import { sgdUpdate } from "../sgd.ts";
import { initTfjs, tf, type TfjsBackendChoice } from "./backend.ts";

type T = tf.Tensor;

/** tf.tidy for functions that return plain JS values (tidy's types only allow tensors). */
function scoped<R>(fn: () => R): R {
  tf.engine().startScope();
  try {
    return fn();
  } finally {
    tf.engine().endScope();
  }
}

export interface TfjsTrainerOptions extends TrainerOptions {
  backend?: TfjsBackendChoice;
}

/**
 * The same model on TensorFlow.js, differentiated by tfjs's own autodiff. On the
 * pure-JS cpu backend it is slow but independent of the ONNX graph builder, which
 * makes it the reference the engine-parity tests compare against. Runs NHWC
 * internally (tfjs's best-tested layout); state stays in the harness's NCHW/OIHW.
 */
/** x[:, ::s, ::s, :] (NHWC) as reshape + slice: both have tfjs gradients, unlike strided slices. */
function subsample(x: tf.Tensor4D, s: number): tf.Tensor4D {
  if (s === 1) return x;
  const [n, h, w, c] = x.shape;
  const six = tf.reshape(x, [n, h / s, s, w / s, s, c]);
  return tf.reshape(tf.slice(six, [0, 0, 0, 0, 0, 0], [n, h / s, 1, w / s, 1, c]), [n, h / s, w / s, c]);
}

type BnStats = Map<string, { mean: T; variance: T; count: number }>;

/** What an op reads while the forward pass runs (activations NHWC). */
interface OpEnv {
  get(v: string): T;
  params: Record<string, T>;
  training: boolean;
  /** Training mode: batch mean and biased variance per BN op, filled as the BN ops run. */
  stats: BnStats;
  eps: number;
  buffers: Tensors;
  spec: ModelSpec;
}

/** The forward pass of every op kind (tfjs differentiates it); the kinds are models/ops.ts's. */
const TFJS_OPS: { [K in OpKind]: (op: OpOf<K>, e: OpEnv) => T } = {
  conv(op, e) {
    const filter = tf.transpose(e.params[op.weight]!, [2, 3, 1, 0]) as tf.Tensor4D; // OIHW -> HWIO
    const p = op.pad;
    return tf.conv2d(e.get(op.x) as tf.Tensor4D, filter, op.stride, [
      [0, 0],
      [p, p],
      [p, p],
      [0, 0],
    ]);
  },
  bn(op, e) {
    const x = e.get(op.x);
    let mean: T, variance: T;
    if (e.training) {
      ({ mean, variance } = tf.moments(x, [0, 1, 2]));
      e.stats.set(op.out, { mean, variance, count: x.shape[0]! * x.shape[1]! * x.shape[2]! });
    } else {
      mean = tf.tensor(e.buffers[op.mean]!);
      variance = tf.tensor(e.buffers[op.var]!);
    }
    const xhat = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, e.eps)));
    return tf.add(tf.mul(xhat, e.params[op.gamma]!), e.params[op.beta]!);
  },
  relu: (op, e) => tf.relu(e.get(op.x)),
  add: (op, e) => tf.add(e.get(op.a), e.get(op.b)),
  "shortcut-a": (op, e) =>
    tf.pad(subsample(e.get(op.x) as tf.Tensor4D, op.stride), [
      [0, 0],
      [0, 0],
      [0, 0],
      [op.padChannels, op.padChannels],
    ]),
  gap: (op, e) => tf.mean(e.get(op.x), [1, 2]),
  "add-const"(op, e) {
    const [c, h, w] = e.spec.buffers.find((b) => b.name === op.tensor)!.shape as [number, number, number];
    return tf.add(e.get(op.x), tf.transpose(tf.tensor(e.buffers[op.tensor]!, [c, h, w]), [1, 2, 0]));
  },
  "channel-gather"(op, e) {
    const x = subsample(e.get(op.x) as tf.Tensor4D, op.stride);
    const cin = x.shape[3];
    const padded = tf.pad(x, [
      [0, 0],
      [0, 0],
      [0, 0],
      [0, 1],
    ]);
    return tf.gather(
      padded,
      tf.tensor1d(
        op.sources.map((s) => (s < 0 ? cin : s)),
        "int32",
      ),
      3,
    );
  },
  fc: (op, e) => tf.add(tf.matMul(e.get(op.x), e.params[op.weight]!, false, true), e.params[op.bias]!),
  // tfjs's explicit pooling padding is never chosen by the max, as in PyTorch.
  maxpool: (op, e) => tf.maxPool(e.get(op.x) as tf.Tensor4D, op.kernel, op.stride, op.pad),
  // NHWC -> NCHW first, so features come in the harness's C, H, W order.
  flatten(op, e) {
    const x = e.get(op.x);
    return tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [x.shape[0]!, -1]);
  },
};

export class TfjsTrainer implements Trainer {
  readonly engine = "tfjs" as const;
  provider = "tfjs-cpu";
  state: ModelState;
  masks: Tensors;
  readonly maskedParams: string[];

  private constructor(
    readonly spec: ModelSpec,
    private readonly o: TfjsTrainerOptions,
    state: ModelState,
  ) {
    this.state = state;
    this.maskedParams = o.maskedParams ?? prunableLayers(spec).map((l) => l.name);
    this.masks = Object.fromEntries(this.maskedParams.map((p) => [p, new Float32Array(state.params[p]!.length).fill(1)]));
  }

  static async create(o: TfjsTrainerOptions, state: ModelState): Promise<TfjsTrainer> {
    const t = new TfjsTrainer(o.spec, o, state);
    t.provider = `tfjs-${(await initTfjs(o.backend ?? "auto")).backend}`;
    return t;
  }

  private effectiveParams(): Record<string, T> {
    const out: Record<string, T> = {};
    for (const p of this.spec.params) {
      const v = tf.tensor(this.state.params[p.name]!, p.shape);
      const m = this.masks[p.name];
      out[p.name] = m ? tf.mul(v, tf.tensor(m, p.shape)) : v;
    }
    return out;
  }

  /** Forward pass; in training mode also returns batch mean and biased variance per BN op. */
  private forward(x: T, params: Record<string, T>, training: boolean): { logits: T; stats: BnStats } {
    const values = new Map<string, T>([[this.spec.input, tf.transpose(x, [0, 2, 3, 1])]]);
    const stats: BnStats = new Map();
    const get = (v: string) => values.get(v)!;
    const env: OpEnv = { get, params, training, stats, eps: this.o.bn.eps, buffers: this.state.buffers, spec: this.spec };
    for (const op of this.spec.ops) values.set(op.out, (TFJS_OPS[op.kind] as (op: Op, env: OpEnv) => T)(op, env));
    return { logits: get(this.spec.output), stats };
  }

  private loss(logits: T, onehot: T): tf.Scalar {
    return tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1))) as tf.Scalar;
  }

  private inputs(batch: Batch): { x: T; onehot: T } {
    const [c, h, w] = this.spec.inputShape;
    return {
      x: tf.tensor(batch.x.subarray(0, batch.size * c * h * w), [batch.size, c, h, w]),
      onehot: tf.tensor(oneHot(batch.y, batch.size, this.spec.numClasses), [batch.size, this.spec.numClasses]),
    };
  }

  /** Gradients with respect to the effective (masked) parameters, plus BN statistics. */
  private lossAndGrads(batch: Batch) {
    return scoped(() => {
      const { x, onehot } = this.inputs(batch);
      const eff = this.effectiveParams();
      const names = this.spec.params.map((p) => p.name);
      // valueAndGrads disposes tensors made inside f, so BN statistics and logits are read out there.
      const bnStats = new Map<string, { mean: Float32Array; variance: Float32Array; count: number }>();
      let logits: Float32Array = new Float32Array(0);
      const f = (...ps: T[]) => {
        const params = Object.fromEntries(names.map((n, i) => [n, ps[i]!]));
        const r = this.forward(x, params, true);
        for (const [k, s] of r.stats)
          bnStats.set(k, { mean: s.mean.dataSync() as Float32Array, variance: s.variance.dataSync() as Float32Array, count: s.count });
        logits = r.logits.dataSync() as Float32Array;
        return this.loss(r.logits, onehot);
      };
      const { value, grads } = tf.valueAndGrads(f)(names.map((n) => eff[n]!));
      const g: Tensors = {};
      names.forEach((n, i) => (g[n] = grads[i]!.dataSync() as Float32Array));
      return { loss: value.dataSync()[0]!, grads: g, logits, bnStats };
    });
  }

  async gradients(batch: Batch): Promise<GradientResult> {
    const r = this.lossAndGrads(batch);
    return {
      loss: r.loss,
      grads: r.grads,
      buffers: this.updatedBuffers(r.bnStats),
      correct: countCorrect(r.logits, batch.y, batch.size, this.spec.numClasses),
    };
  }

  private updatedBuffers(bnStats: Map<string, { mean: Float32Array; variance: Float32Array; count: number }>): Tensors {
    // Buffers no op updates (a compacted model's folded constants) carry over unchanged.
    const buffers: Tensors = { ...this.state.buffers };
    const bnm = this.o.bn.momentum;
    for (const op of this.spec.ops) {
      if (op.kind !== "bn") continue;
      const s = bnStats.get(op.out)!;
      const rm = this.state.buffers[op.mean]!,
        rv = this.state.buffers[op.var]!;
      buffers[op.mean] = rm.map((v, i) => (1 - bnm) * v + bnm * s.mean[i]!);
      buffers[op.var] = rv.map((v, i) => (1 - bnm) * v + bnm * s.variance[i]! * (s.count / (s.count - 1)));
    }
    return buffers;
  }

  async trainStep(batch: Batch, lr: number): Promise<StepResult> {
    const r = this.lossAndGrads(batch);
    const { params, momentum } = sgdUpdate(this.state, r.grads, this.masks, { lr, ...this.o.sgd });
    this.state = { params, momentum, buffers: this.updatedBuffers(r.bnStats) };
    return { loss: r.loss, correct: countCorrect(r.logits, batch.y, batch.size, this.spec.numClasses) };
  }

  async predict(x: Float32Array, size: number): Promise<Float32Array> {
    return scoped(() => {
      const [c, h, w] = this.spec.inputShape;
      const xt = tf.tensor(x.subarray(0, size * c * h * w), [size, c, h, w]);
      return this.forward(xt, this.effectiveParams(), false).logits.dataSync() as Float32Array;
    });
  }

  async batchStats(x: Float32Array, size: number): Promise<Tensors> {
    return scoped(() => {
      const [c, h, w] = this.spec.inputShape;
      const { stats } = this.forward(tf.tensor(x.subarray(0, size * c * h * w), [size, c, h, w]), this.effectiveParams(), true);
      const out: Tensors = {};
      for (const op of this.spec.ops) {
        if (op.kind !== "bn") continue;
        const s = stats.get(op.out)!;
        out[op.mean] = s.mean.dataSync() as Float32Array;
        out[op.var] = (s.variance.dataSync() as Float32Array).map((v) => (v * s.count) / (s.count - 1));
      }
      return out;
    });
  }

  async dispose(): Promise<void> {}
}

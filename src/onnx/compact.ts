import type { Tensors } from "../engine/types.ts";
import type { BufferSpec, ModelSpec, Op, OpKind, OpOf, ParamSpec } from "../models/spec.ts";
import { inputsOf } from "../models/ops.ts";
import { applyMasks } from "../prune/magnitude.ts";

/** A structurally smaller model that computes the same outputs as the masked one. */
export interface CompactModel {
  spec: ModelSpec;
  params: Tensors;
  buffers: Tensors;
  /** Channels kept per value of the original model (indices into its channels); absent: all kept. */
  kept: Record<string, number[]>;
  /** Channels removed over all values that a conv produces (a summary for reports). */
  removedConvChannels: number;
  /** Constant channels folded into add-const tensors or fc biases instead of being computed. */
  foldedChannels: number;
}

class UnionFind {
  private readonly parent: Int32Array;
  constructor(n: number) {
    this.parent = Int32Array.from({ length: n }, (_, i) => i);
  }
  find(i: number): number {
    while (this.parent[i] !== i) {
      this.parent[i] = this.parent[this.parent[i]!]!;
      i = this.parent[i]!;
    }
    return i;
  }
  union(a: number, b: number): void {
    this.parent[this.find(a)] = this.find(b);
  }
}

/** Whether input channel j of a conv ([cout, cin, k, k]) or fc ([fout, fin], k = 1) has any non-zero weight. */
function readsChannel(w: Float32Array, cout: number, cin: number, kk: number, j: number): boolean {
  for (let o = 0; o < cout; o++) {
    const base = (o * cin + j) * kk;
    for (let t = 0; t < kk; t++) if (w[base + t] !== 0) return true;
  }
  return false;
}

/**
 * Physically removes the channels that pruning made dead, so that the compact model
 * does less work and computes the same outputs.
 *
 * A channel of an activation is tied to the same channel of every activation that an
 * elementwise op (BN, ReLU, residual add, pooling, the option-A shortcut's channel
 * shift) links it with; such a tied set is removed as a whole, together with the conv
 * filters that produce it and the BN entries that transform it. That is exact when
 * every conv or fc that reads a channel of the set either has all-zero weights on it
 * or sees a value known to be the same constant for every image and position (a pruned
 * filter's output after BN and ReLU): that constant's contribution is folded into a
 * per-position tensor added after the conv (zero padding makes it vary near the border)
 * or into the fc bias. Sets holding the model's input or output are never removed.
 */
export function compactModel(spec: ModelSpec, params: Tensors, buffers: Tensors, masks: Tensors, o: { bnEps: number }): CompactModel {
  const eff = applyMasks(params, masks);
  const analysis = analyseChannels(spec, eff, buffers, o.bnEps);
  const b = new CompactBuilder(spec, eff, buffers, analysis, keptChannels(spec, eff, analysis));
  for (const op of spec.ops) {
    if (b.kept(op.out).length === 0) continue;
    (RULES[op.kind].rebuild as (b: CompactBuilder, op: Op) => void)(b, op);
  }
  return b.finish();
}

/** The compact model, op by op: each method rebuilds one kind of op on the kept channels. */
class CompactBuilder {
  readonly ops: Op[] = [];
  private readonly params: Tensors = {};
  private readonly buffers: Tensors = {};
  private readonly paramShapes = new Map<string, number[]>();
  private readonly bufferShapes = new Map<string, number[]>();
  private readonly shapes: Record<string, number[]> = {};
  private folded = 0;

  constructor(
    private readonly spec: ModelSpec,
    /** The masked weights. */
    private readonly eff: Tensors,
    private readonly srcBuffers: Tensors,
    private readonly a: ChannelAnalysis,
    /** Kept channels of each value. */
    readonly kept: (v: string) => number[],
  ) {
    for (const [v, sh] of Object.entries(spec.shapes)) this.shapes[v] = [kept(v).length, ...sh.slice(1)];
  }

  private setParam(name: string, v: Float32Array, shape: number[]) {
    this.params[name] = v;
    this.paramShapes.set(name, shape);
  }

  private setBuffer(name: string, v: Float32Array, shape: number[]) {
    this.buffers[name] = v;
    this.bufferShapes.set(name, shape);
  }

  /** Kept filters on kept input channels; dropped inputs that carry a constant are folded into an add-const after it. */
  conv(op: OpOf<"conv">) {
    const kin = this.kept(op.x),
      kout = this.kept(op.out),
      kk = op.kernel * op.kernel,
      w = this.eff[op.weight]!;
    if (kin.length === 0)
      throw new Error(`compaction: every input channel of conv ${op.weight} was removed but some of its filters stay; this model cannot be compacted exactly`);
    const cw = new Float32Array(kout.length * kin.length * kk);
    kout.forEach((f, a) => kin.forEach((j, b) => cw.set(w.subarray((f * op.cin + j) * kk, (f * op.cin + j + 1) * kk), (a * kin.length + b) * kk)));
    this.setParam(op.weight, cw, [kout.length, kin.length, op.kernel, op.kernel]);
    const cv = this.a.cv(op.x);
    const foldIn = Array.from({ length: op.cin }, (_, j) => j).filter((j) => !kin.includes(j) && cv[j] !== 0 && readsChannel(w, op.cout, op.cin, kk, j));
    const conv = { ...op, cin: kin.length, cout: kout.length };
    if (foldIn.length === 0) {
      this.ops.push(conv);
      return;
    }
    this.folded += foldIn.length;
    const [, ho, wo] = this.spec.shapes[op.out] as [number, number, number];
    const tensor = `${op.weight.replace(/\.weight$/, "")}.fold`;
    this.setBuffer(tensor, foldedConstants(op, this.spec, kout, foldIn, cv, w), [kout.length, ho, wo]);
    const mid = `${op.out}/conv`;
    this.shapes[mid] = this.shapes[op.out]!;
    this.ops.push({ ...conv, out: mid }, { kind: "add-const", x: mid, out: op.out, tensor });
  }

  bn(op: OpOf<"bn">) {
    const k = this.kept(op.out);
    const pick = (src: Float32Array) => Float32Array.from(k, (i) => src[i]!);
    this.setParam(op.gamma, pick(this.eff[op.gamma]!), [k.length]);
    this.setParam(op.beta, pick(this.eff[op.beta]!), [k.length]);
    this.setBuffer(op.mean, pick(this.srcBuffers[op.mean]!), [k.length]);
    this.setBuffer(op.var, pick(this.srcBuffers[op.var]!), [k.length]);
    this.ops.push({ ...op, channels: k.length });
  }

  /** An option-A shortcut stays one while it keeps every channel; otherwise it (like a gather) becomes a gather of kept channels. */
  gather(op: OpOf<"shortcut-a" | "channel-gather">) {
    const kin = this.kept(op.x),
      kout = this.kept(op.out),
      channels = this.a.channels(op.x);
    const source = (k: number) =>
      op.kind === "shortcut-a" ? (k >= op.padChannels && k < op.padChannels + channels ? k - op.padChannels : -1) : op.sources[k]!;
    if (op.kind === "shortcut-a" && kin.length === channels && kout.length === this.a.channels(op.out)) this.ops.push(op);
    else
      this.ops.push({
        kind: "channel-gather",
        x: op.x,
        out: op.out,
        stride: op.stride,
        sources: kout.map((k) => (source(k) < 0 ? -1 : kin.indexOf(source(k)))),
      });
  }

  addConst(op: OpOf<"add-const">) {
    const k = this.kept(op.out),
      [, h, w] = this.spec.shapes[op.out] as [number, number, number];
    const src = this.srcBuffers[op.tensor]!;
    this.setBuffer(
      op.tensor,
      Float32Array.from({ length: k.length * h * w }, (_, i) => src[k[Math.floor(i / (h * w))]! * h * w + (i % (h * w))]!),
      [k.length, h, w],
    );
    this.ops.push(op);
  }

  /** Kept input columns; dropped inputs that carry a constant add their contribution to the bias. */
  fc(op: OpOf<"fc">) {
    const kin = this.kept(op.x),
      w = this.eff[op.weight]!,
      b = this.eff[op.bias]!.slice(),
      cv = this.a.cv(op.x);
    const cw = new Float32Array(op.fout * kin.length);
    for (let r = 0; r < op.fout; r++) kin.forEach((j, i) => (cw[r * kin.length + i] = w[r * op.fin + j]!));
    for (let j = 0; j < op.fin; j++) {
      if (kin.includes(j)) continue;
      const c = cv[j]!;
      if (c === 0 || !readsChannel(w, op.fout, op.fin, 1, j)) continue;
      this.folded++;
      for (let r = 0; r < op.fout; r++) b[r] = b[r]! + c * w[r * op.fin + j]!;
    }
    this.setParam(op.weight, cw, [op.fout, kin.length]);
    this.setParam(op.bias, b, [op.fout]);
    this.ops.push({ ...op, fin: kin.length });
  }

  finish(): CompactModel {
    const { spec, kept } = this;
    const params: ParamSpec[] = spec.params.filter((p) => this.paramShapes.has(p.name)).map((p) => ({ ...p, shape: this.paramShapes.get(p.name)! }));
    const buffers: BufferSpec[] = [...this.bufferShapes].map(([name, shape]) => {
      const orig = spec.buffers.find((b) => b.name === name);
      return orig ? { ...orig, shape } : { name, shape, init: 0, role: "fold" as const };
    });
    const used = new Set(this.ops.flatMap((op) => [op.out, ...inputsOf(op)]));
    const keptOut: Record<string, number[]> = {};
    for (const v of Object.keys(spec.shapes)) if (kept(v).length !== this.a.channels(v)) keptOut[v] = kept(v);
    let removedConvChannels = 0;
    for (const op of spec.ops) if (op.kind === "conv") removedConvChannels += op.cout - kept(op.out).length;
    return {
      spec: {
        ...spec,
        ops: this.ops,
        params,
        buffers,
        shapes: Object.fromEntries(Object.entries(this.shapes).filter(([v]) => used.has(v) || v === spec.input)),
      },
      params: this.params,
      buffers: this.buffers,
      kept: keptOut,
      removedConvChannels,
      foldedChannels: this.folded,
    };
  }
}

/** Channels of every value, tied into sets by elementwise ops, and each channel's constant value where it is one. */
interface ChannelAnalysis {
  channels: (v: string) => number;
  node: (v: string, j: number) => number;
  uf: UnionFind;
  /** Constant value of each channel of a value for every image and position (NaN: varies). */
  cv: (v: string) => Float64Array;
}

function analyseChannels(spec: ModelSpec, eff: Tensors, buffers: Tensors, bnEps: number): ChannelAnalysis {
  const channels = (v: string) => spec.shapes[v]![0]!;
  const offset = new Map<string, number>();
  let nodes = 0;
  for (const v of Object.keys(spec.shapes)) {
    offset.set(v, nodes);
    nodes += channels(v);
  }
  const node = (v: string, j: number) => offset.get(v)! + j;
  const uf = new UnionFind(nodes);
  const tie = (a: string, b: string, map: (j: number) => number = (j) => j) => {
    for (let j = 0; j < channels(a); j++) {
      const k = map(j);
      if (k >= 0) uf.union(node(a, j), node(b, k));
    }
  };

  // Constant value of each channel for every image and position (NaN: varies).
  const constant = new Map<string, Float64Array>([[spec.input, new Float64Array(channels(spec.input)).fill(NaN)]]);
  const cv = (v: string) => constant.get(v)!;
  const tools: AnalysisTools = { tie, union: (a, j, b, k) => uf.union(node(a, j), node(b, k)), cv, eff, buffers, bnEps };
  for (const op of spec.ops) {
    const out = new Float64Array(channels(op.out)).fill(NaN);
    (RULES[op.kind].analyse as (op: Op, t: AnalysisTools, out: Float64Array) => void)(op, tools, out);
    constant.set(op.out, out);
  }
  return { channels, node, uf, cv };
}

/** The channels of each value that stay: their tied set holds the input or output, or a conv/fc reads one of its varying channels. */
function keptChannels(spec: ModelSpec, eff: Tensors, a: ChannelAnalysis): (v: string) => number[] {
  const { channels, node, uf, cv } = a;
  const pinned = new Set<number>();
  const pinAll = (v: string) => {
    for (let j = 0; j < channels(v); j++) pinned.add(uf.find(node(v, j)));
  };
  pinAll(spec.input);
  pinAll(spec.output);
  for (const op of spec.ops) {
    if (op.kind !== "conv" && op.kind !== "fc") continue;
    const [w, rows, cols, kk] = op.kind === "conv" ? [eff[op.weight]!, op.cout, op.cin, op.kernel * op.kernel] : [eff[op.weight]!, op.fout, op.fin, 1];
    for (let j = 0; j < cols; j++) if (Number.isNaN(cv(op.x)[j]) && readsChannel(w, rows, cols, kk, j)) pinned.add(uf.find(node(op.x, j)));
  }
  const keep = new Map<string, number[]>();
  for (const v of Object.keys(spec.shapes))
    keep.set(
      v,
      Array.from({ length: channels(v) }, (_, j) => j).filter((j) => pinned.has(uf.find(node(v, j)))),
    );
  return (v: string) => keep.get(v)!;
}

/**
 * The per-position contribution of a conv's removed input channels whose values are
 * `constants[j]`: zero padding makes it vary near the border, so it is a [C, H, W]
 * tensor added after the compact conv (add-const).
 */
function foldedConstants(
  op: Extract<Op, { kind: "conv" }>,
  spec: ModelSpec,
  kout: number[],
  foldIn: number[],
  constants: Float64Array,
  w: Float32Array,
): Float32Array {
  const [, ho, wo] = spec.shapes[op.out] as [number, number, number];
  const [, h, wi] = spec.shapes[op.x] as [number, number, number];
  const map = new Float32Array(kout.length * ho * wo);
  kout.forEach((f, a) => {
    for (let y = 0; y < ho; y++) {
      for (let x = 0; x < wo; x++) {
        let s = 0;
        for (const j of foldIn) {
          const c = constants[j]!;
          for (let ky = 0; ky < op.kernel; ky++) {
            const iy = y * op.stride - op.pad + ky;
            if (iy < 0 || iy >= h) continue;
            for (let kx = 0; kx < op.kernel; kx++) {
              const ix = x * op.stride - op.pad + kx;
              if (ix >= 0 && ix < wi) s += c * w[((f * op.cin + j) * op.kernel + ky) * op.kernel + kx]!;
            }
          }
        }
        map[(a * ho + y) * wo + x] = s;
      }
    }
  });
  return map;
}

/** What an op's analysis rule may use: channel ties, the constant channels computed so far, the weights. */
interface AnalysisTools {
  /** Ties channel j of `a` to channel map(j) of `b` (identity by default; skipped where map gives -1). */
  tie(a: string, b: string, map?: (j: number) => number): void;
  /** Ties channel j of `a` to channel k of `b`. */
  union(a: string, j: number, b: string, k: number): void;
  cv(v: string): Float64Array;
  eff: Tensors;
  buffers: Tensors;
  bnEps: number;
}

/**
 * Structured compaction's rule for each op kind: `analyse` ties the op's output
 * channels to the input channels they come from and fills `out` with the output
 * channels that are the same constant for every image and position (NaN: varies);
 * `rebuild` emits the op on the kept channels.
 */
interface CompactRule<K extends OpKind> {
  analyse(op: OpOf<K>, t: AnalysisTools, out: Float64Array): void;
  rebuild(b: CompactBuilder, op: OpOf<K>): void;
}

/** Channel-wise ops: their kept channels follow from their inputs' and outputs' ties. */
const keepAsIs = (b: CompactBuilder, op: Op) => void b.ops.push(op);

const RULES: { [K in OpKind]: CompactRule<K> } = {
  conv: {
    analyse(op, t, out) {
      const w = t.eff[op.weight]!,
        x = t.cv(op.x),
        kk = op.kernel * op.kernel;
      for (let f = 0; f < op.cout; f++) {
        let live = false;
        for (let j = 0; j < op.cin && !live; j++) {
          if (x[j] === 0) continue;
          for (let k = 0; k < kk; k++) if (w[(f * op.cin + j) * kk + k] !== 0) live = true;
        }
        if (!live) out[f] = 0;
      }
    },
    rebuild: (b, op) => b.conv(op),
  },
  bn: {
    analyse(op, t, out) {
      t.tie(op.x, op.out);
      const x = t.cv(op.x),
        g = t.eff[op.gamma]!,
        be = t.eff[op.beta]!,
        m = t.buffers[op.mean]!,
        va = t.buffers[op.var]!;
      for (let j = 0; j < op.channels; j++) out[j] = (g[j]! * (x[j]! - m[j]!)) / Math.sqrt(va[j]! + t.bnEps) + be[j]!;
    },
    rebuild: (b, op) => b.bn(op),
  },
  relu: {
    analyse(op, t, out) {
      t.tie(op.x, op.out);
      t.cv(op.x).forEach((c, j) => (out[j] = Math.max(0, c)));
    },
    rebuild: keepAsIs,
  },
  add: {
    analyse(op, t, out) {
      t.tie(op.a, op.out);
      t.tie(op.b, op.out);
      t.cv(op.a).forEach((c, j) => (out[j] = c + t.cv(op.b)[j]!));
    },
    rebuild: keepAsIs,
  },
  "shortcut-a": {
    analyse(op, t, out) {
      t.tie(op.x, op.out, (j) => j + op.padChannels);
      out.fill(0);
      t.cv(op.x).forEach((c, j) => (out[j + op.padChannels] = c));
    },
    rebuild: (b, op) => b.gather(op),
  },
  "channel-gather": {
    analyse(op, t, out) {
      op.sources.forEach((s, k) => {
        if (s >= 0) t.union(op.x, s, op.out, k);
        out[k] = s >= 0 ? t.cv(op.x)[s]! : 0;
      });
    },
    rebuild: (b, op) => b.gather(op),
  },
  gap: {
    analyse(op, t, out) {
      t.tie(op.x, op.out);
      out.set(t.cv(op.x));
    },
    rebuild: keepAsIs,
  },
  // A channel that is constant everywhere is the same constant after max pooling (padding is never chosen).
  maxpool: {
    analyse(op, t, out) {
      t.tie(op.x, op.out);
      out.set(t.cv(op.x));
    },
    rebuild: keepAsIs,
  },
  // Feature c*H*W + i is channel c at position i: tied to it, and constant where it is.
  flatten: {
    analyse(op, t, out) {
      const x = t.cv(op.x),
        per = out.length / x.length;
      for (let j = 0; j < out.length; j++) {
        t.union(op.x, Math.floor(j / per), op.out, j);
        out[j] = x[Math.floor(j / per)]!;
      }
    },
    rebuild: keepAsIs,
  },
  "add-const": {
    analyse: (op, t) => t.tie(op.x, op.out),
    rebuild: (b, op) => b.addConst(op),
  },
  fc: {
    analyse: () => undefined,
    rebuild: (b, op) => b.fc(op),
  },
};

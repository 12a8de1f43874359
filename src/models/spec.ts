/**
 * A model is data: a list of ops over named values plus its parameters and buffers.
 * Both engines (ONNX graphs and TensorFlow.js) build from this one description, and
 * pruning/export read the prunable layers from it without knowing the architecture.
 *
 * Layouts follow PyTorch/ONNX: activations NCHW, conv weights OIHW, fc weights [out, in].
 * Shapes here leave out the batch dimension.
 */

export type Init = { kind: "normal"; std: number } | { kind: "uniform"; bound: number } | { kind: "const"; value: number };

export interface ParamSpec {
  name: string;
  shape: number[];
  init: Init;
  /** Conv weights are prunable in both papers; fc and BN are not (callers may choose fc). */
  role: "conv" | "fc-weight" | "fc-bias" | "bn-gamma" | "bn-beta";
}

export interface BufferSpec {
  name: string;
  shape: number[];
  init: number;
  /** "fold": a constant added to an activation (structured compaction folds constant channels into it). */
  role: "bn-mean" | "bn-var" | "fold";
}

export type Op =
  | { kind: "conv"; x: string; out: string; weight: string; kernel: number; stride: number; pad: number; cin: number; cout: number }
  | { kind: "bn"; x: string; out: string; gamma: string; beta: string; mean: string; var: string; channels: number }
  | { kind: "relu"; x: string; out: string }
  | { kind: "add"; a: string; b: string; out: string }
  /** Option-A shortcut of the CIFAR ResNet: subsample by `stride`, zero-pad channels on both sides. */
  | { kind: "shortcut-a"; x: string; out: string; stride: number; padChannels: number }
  | { kind: "gap"; x: string; out: string }
  /** Adds the buffer `tensor` ([C, H, W], the same for every image): compacted models fold constant channels into it. */
  | { kind: "add-const"; x: string; out: string; tensor: string }
  /**
   * Subsample by `stride`, then output channel k = input channel sources[k], or zeros where
   * sources[k] is -1: an option-A shortcut after structured compaction removed channels.
   */
  | { kind: "channel-gather"; x: string; out: string; stride: number; sources: number[] }
  | { kind: "fc"; x: string; out: string; weight: string; bias: string; fin: number; fout: number }
  /** Max over kernel x kernel windows, padding never chosen (PyTorch's MaxPool2d, floor mode). */
  | { kind: "maxpool"; x: string; out: string; kernel: number; stride: number; pad: number }
  /** [C, H, W] -> [C*H*W] in C, H, W order (torch.flatten(x, 1)). */
  | { kind: "flatten"; x: string; out: string };

export type OpKind = Op["kind"];
export type OpOf<K extends OpKind> = Extract<Op, { kind: K }>;

export interface ModelSpec {
  arch: string;
  /** [C, H, W] of one input image. */
  inputShape: [number, number, number];
  numClasses: number;
  ops: Op[];
  params: ParamSpec[];
  buffers: BufferSpec[];
  /** Per-value shapes (without batch), including the input "x" and the output. */
  shapes: Record<string, number[]>;
  input: string;
  output: string;
}

export interface PrunableLayer {
  name: string;
  shape: number[];
}

/** Conv weights: the layers both papers prune. */
export function prunableLayers(spec: ModelSpec, opts: { includeFc?: boolean } = {}): PrunableLayer[] {
  return spec.params
    .filter((p) => p.role === "conv" || (opts.includeFc === true && p.role === "fc-weight"))
    .map((p) => ({ name: p.name, shape: [...p.shape] }));
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function countParams(spec: ModelSpec, roles?: ParamSpec["role"][]): number {
  return spec.params.filter((p) => !roles || roles.includes(p.role)).reduce((s, p) => s + numel(p.shape), 0);
}

/** Records ops while tracking shapes, so architectures read like PyTorch module code. */
export class SpecBuilder {
  readonly ops: Op[] = [];
  readonly params: ParamSpec[] = [];
  readonly buffers: BufferSpec[] = [];
  readonly shapes: Record<string, number[]> = {};
  private counter = 0;

  constructor(
    readonly inputShape: [number, number, number],
    readonly input = "x",
  ) {
    this.shapes[input] = [...inputShape];
  }

  private value(prefix: string, shape: number[]): string {
    const name = `${prefix}:${this.counter++}`;
    this.shapes[name] = shape;
    return name;
  }

  shape(v: string): number[] {
    const s = this.shapes[v];
    if (!s) throw new Error(`unknown value ${v}`);
    return s;
  }

  conv(x: string, name: string, cout: number, o: { kernel: number; stride: number; pad: number; init: Init }): string {
    const [cin, h, w] = this.shape(x) as [number, number, number];
    const ho = Math.floor((h + 2 * o.pad - o.kernel) / o.stride) + 1;
    const wo = Math.floor((w + 2 * o.pad - o.kernel) / o.stride) + 1;
    const weight = `${name}.weight`;
    this.params.push({ name: weight, shape: [cout, cin, o.kernel, o.kernel], init: o.init, role: "conv" });
    const out = this.value(name, [cout, ho, wo]);
    this.ops.push({ kind: "conv", x, out, weight, kernel: o.kernel, stride: o.stride, pad: o.pad, cin, cout });
    return out;
  }

  bn(x: string, name: string): string {
    const c = this.shape(x)[0]!;
    const names = { gamma: `${name}.weight`, beta: `${name}.bias`, mean: `${name}.running_mean`, var: `${name}.running_var` };
    this.params.push({ name: names.gamma, shape: [c], init: { kind: "const", value: 1 }, role: "bn-gamma" });
    this.params.push({ name: names.beta, shape: [c], init: { kind: "const", value: 0 }, role: "bn-beta" });
    this.buffers.push({ name: names.mean, shape: [c], init: 0, role: "bn-mean" });
    this.buffers.push({ name: names.var, shape: [c], init: 1, role: "bn-var" });
    const out = this.value(name, this.shape(x));
    this.ops.push({ kind: "bn", x, out, ...names, channels: c });
    return out;
  }

  relu(x: string): string {
    const out = this.value("relu", this.shape(x));
    this.ops.push({ kind: "relu", x, out });
    return out;
  }

  add(a: string, b: string): string {
    const sa = this.shape(a),
      sb = this.shape(b);
    if (sa.join() !== sb.join()) throw new Error(`add: shapes differ ${sa} vs ${sb}`);
    const out = this.value("add", sa);
    this.ops.push({ kind: "add", a, b, out });
    return out;
  }

  shortcutA(x: string, cout: number, stride: number): string {
    const [cin, h, w] = this.shape(x) as [number, number, number];
    if ((cout - cin) % 2 !== 0) throw new Error(`shortcut-a: cannot pad ${cin} to ${cout} channels symmetrically`);
    const out = this.value("shortcut", [cout, Math.ceil(h / stride), Math.ceil(w / stride)]);
    this.ops.push({ kind: "shortcut-a", x, out, stride, padChannels: (cout - cin) / 2 });
    return out;
  }

  maxpool(x: string, o: { kernel: number; stride: number; pad: number }): string {
    const [c, h, w] = this.shape(x) as [number, number, number];
    if (2 * o.pad > o.kernel) throw new Error(`maxpool: padding ${o.pad} is more than half the kernel ${o.kernel}`);
    const size = (n: number) => Math.floor((n + 2 * o.pad - o.kernel) / o.stride) + 1;
    const out = this.value("maxpool", [c, size(h), size(w)]);
    this.ops.push({ kind: "maxpool", x, out, ...o });
    return out;
  }

  flatten(x: string): string {
    const out = this.value("flatten", [numel(this.shape(x))]);
    this.ops.push({ kind: "flatten", x, out });
    return out;
  }

  gap(x: string): string {
    const out = this.value("gap", [this.shape(x)[0]!]);
    this.ops.push({ kind: "gap", x, out });
    return out;
  }

  fc(x: string, name: string, fout: number, o: { weightInit: Init; biasInit: Init }): string {
    const fin = this.shape(x)[0]!;
    const weight = `${name}.weight`,
      bias = `${name}.bias`;
    this.params.push({ name: weight, shape: [fout, fin], init: o.weightInit, role: "fc-weight" });
    this.params.push({ name: bias, shape: [fout], init: o.biasInit, role: "fc-bias" });
    const out = this.value(name, [fout]);
    this.ops.push({ kind: "fc", x, out, weight, bias, fin, fout });
    return out;
  }

  build(arch: string, output: string, numClasses: number): ModelSpec {
    return {
      arch,
      inputShape: this.inputShape,
      numClasses,
      ops: this.ops,
      params: this.params,
      buffers: this.buffers,
      shapes: this.shapes,
      input: this.input,
      output,
    };
  }
}

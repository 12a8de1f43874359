import { onnx } from "onnx-proto";

const DT = onnx.TensorProto.DataType;
const AT = onnx.AttributeProto.AttributeType;

/** Opset pinned for every graph: 18 takes ReduceMean/ReduceSum axes as an input. */
export const OPSET = 18;
/** IR version 8 is the newest onnx-proto encodes; ORT accepts opset 18 with it. */
export const IR_VERSION = 8;
/** ONNX Runtime's contrib domain of blocked-layout (NCHWc) CPU kernels. */
export const NCHWC_DOMAIN = "com.microsoft.nchwc";

export type AttrValue = number | number[] | string | { float: number };

/** A dimension: a fixed size or the name of a symbolic one (the batch). */
export type Dim = number | string;

/**
 * Emits ONNX nodes with generated names. Op emitters call it; nothing else in the
 * engine touches protobuf types.
 */
export class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  readonly inputs: onnx.IValueInfoProto[] = [];
  readonly outputs: onnx.IValueInfoProto[] = [];
  private counter = 0;
  private constCache = new Map<string, string>();

  fresh(hint: string): string {
    return `${hint.replace(/[^A-Za-z0-9_.]/g, "_")}__${this.counter++}`;
  }

  /** Adds one node and returns its output names. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, o: { outputs?: number; name?: string; domain?: string } = {}): string[] {
    const outs = Array.from({ length: o.outputs ?? 1 }, () => this.fresh(o.name ?? opType));
    this.nodes.push({
      opType,
      domain: o.domain ?? "",
      input: inputs,
      output: outs,
      name: this.fresh(`n_${o.name ?? opType}`),
      attribute: Object.entries(attrs).map(([name, v]) => attribute(name, v)),
    });
    return outs;
  }

  /** Single-output shorthand. */
  op1(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, name?: string): string {
    return this.op(opType, inputs, attrs, { name })[0]!;
  }

  /** Routes a value to a graph output of a given name. */
  alias(value: string, outputName: string): void {
    this.nodes.push({ opType: "Identity", domain: "", input: [value], output: [outputName], name: this.fresh("n_Identity") });
  }

  constFloat(values: number[], dims: number[]): string {
    return this.constant("f", values, dims, () => ({ dataType: DT.FLOAT, floatData: values }));
  }

  constInt64(values: number[], dims: number[] = [values.length]): string {
    return this.constant("i", values, dims, () => ({ dataType: DT.INT64, int64Data: values }));
  }

  private constant(kind: string, values: number[], dims: number[], body: () => onnx.ITensorProto): string {
    const key = `${kind}:${dims.join("x")}:${values.join(",")}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.fresh(`c_${kind}`);
    this.initializers.push({ name, dims, ...body() });
    this.constCache.set(key, name);
    return name;
  }

  /** A named constant tensor (exported weights). */
  initializer(name: string, values: Float32Array, dims: number[]): string {
    this.initializers.push({
      name,
      dims,
      dataType: DT.FLOAT,
      rawData: new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)),
    });
    return name;
  }

  input(name: string, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, dims));
    return name;
  }

  /** A graph output; dims may be left out when they vary (benchmarks). */
  output(name: string, dims?: Dim[]): void {
    this.outputs.push(valueInfo(name, dims));
  }

  toModel(name: string, doc = "", metadata: Record<string, string> = {}): Uint8Array {
    const graph = onnx.GraphProto.create({
      name,
      node: this.nodes,
      initializer: this.initializers,
      input: this.inputs,
      output: this.outputs,
    });
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      // nchwc: ORT's blocked-layout CPU kernels (ops/nchwc.ts); other EPs ignore the import.
      opsetImport: [
        { domain: "", version: OPSET },
        { domain: NCHWC_DOMAIN, version: 1 },
      ],
      producerName: "pruning-harness",
      docString: doc,
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
      graph,
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, dims?: Dim[]): onnx.IValueInfoProto {
  const shape = dims ? { shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } } : {};
  return { name, type: { tensorType: { elemType: DT.FLOAT, ...shape } } };
}

function attribute(name: string, v: AttrValue): onnx.IAttributeProto {
  if (typeof v === "number") return { name, type: AT.INT, i: v };
  if (typeof v === "string") return { name, type: AT.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: AT.INTS, ints: v };
  return { name, type: AT.FLOAT, f: v.float };
}

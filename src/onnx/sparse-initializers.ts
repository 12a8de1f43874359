import { onnx } from "onnx-proto";

const FLOAT = 1,
  INT64 = 7;

/**
 * Rewrites float initializers with at least `minZeroFraction` zeros as ONNX sparse
 * initializers (non-zero values + their flat int64 indices), the format's own way of
 * storing unstructured sparsity. Returns the new model and how many tensors changed.
 */
export function withSparseInitializers(bytes: Uint8Array, minZeroFraction: number): { bytes: Uint8Array; converted: number } {
  const m = onnx.ModelProto.decode(bytes);
  const g = m.graph!;
  const dense: onnx.ITensorProto[] = [];
  const sparse: onnx.ISparseTensorProto[] = [];
  for (const t of g.initializer ?? []) {
    if (t.dataType !== FLOAT || !t.rawData) {
      dense.push(t);
      continue;
    }
    const raw = t.rawData;
    const v = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    const nz: number[] = [];
    for (let i = 0; i < v.length; i++) if (v[i] !== 0) nz.push(i);
    if (v.length < 16 || 1 - nz.length / v.length < minZeroFraction) {
      dense.push(t);
      continue;
    }
    const values = Float32Array.from(nz, (i) => v[i]!);
    const indices = BigInt64Array.from(nz, (i) => BigInt(i));
    sparse.push({
      dims: t.dims,
      values: { name: t.name, dataType: FLOAT, dims: [nz.length], rawData: new Uint8Array(values.buffer) },
      indices: { dataType: INT64, dims: [nz.length], rawData: new Uint8Array(indices.buffer) },
    });
  }
  g.initializer = dense;
  g.sparseInitializer = sparse;
  return { bytes: onnx.ModelProto.encode(m).finish(), converted: sparse.length };
}

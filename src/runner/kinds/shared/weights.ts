import { createHash } from "node:crypto";

/** Hash of the final parameters: equal hashes mean bit-identical models (resume tests). */
export function weightsSha256(params: Record<string, Float32Array>): string {
  const h = createHash("sha256");
  for (const k of Object.keys(params).sort()) {
    const v = params[k]!;
    h.update(k);
    h.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  }
  return h.digest("hex");
}

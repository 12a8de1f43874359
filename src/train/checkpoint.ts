import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import type { ModelState, Tensors } from "../engine/types.ts";
import { writeFileAtomic } from "../util/atomic-write.ts";

const MAGIC = "PHCKPT1\n";

/** A run's data randomness: its seed and the named stream drawn from it (absent: the default stream). */
export interface DataRng {
  seed: number;
  stream?: string;
}

/** A resume checkpoint written by a run with other data randomness cannot continue this one. */
export function checkResumeRng(path: string, written: DataRng, run: DataRng): void {
  const name = (r: DataRng) => `seed ${r.seed}${r.stream ? `, stream "${r.stream}"` : ""}`;
  if (written.seed !== run.seed || (written.stream ?? "") !== (run.stream ?? ""))
    throw new Error(`${path}: written with ${name(written)}, this run uses ${name(run)}; use another path`);
}

export interface Checkpoint {
  /** Epochs completed. */
  epoch: number;
  state: ModelState;
  masks: Tensors;
  /**
   * Data order and augmentation are drawn from streams keyed by (seed, stream, epoch), so
   * the seed, the stream's name and the epoch are the complete RNG state of a run.
   */
  rng: DataRng;
  /** Free-form JSON (config hash, engine, history) stored with the tensors. */
  meta: Record<string, unknown>;
}

interface Entry {
  group: "params" | "buffers" | "momentum" | "masks";
  name: string;
  length: number;
}

/** Writes magic, header length, JSON header (with the payload's SHA-256), then float32 payload. */
export function saveCheckpoint(path: string, c: Checkpoint): void {
  const entries: Entry[] = [];
  const chunks: Uint8Array[] = [];
  const groups = { params: c.state.params, buffers: c.state.buffers, momentum: c.state.momentum, masks: c.masks };
  for (const [group, tensors] of Object.entries(groups) as [Entry["group"], Tensors][]) {
    for (const name of Object.keys(tensors).sort()) {
      const t = tensors[name]!;
      entries.push({ group, name, length: t.length });
      chunks.push(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
    }
  }
  const hash = createHash("sha256");
  for (const ch of chunks) hash.update(ch);
  const header = Buffer.from(JSON.stringify({ epoch: c.epoch, rng: c.rng, meta: c.meta, entries, sha256: hash.digest("hex") }));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length);
  // Pad so the float32 payload starts 4-byte aligned.
  const pad = Buffer.alloc((4 - ((MAGIC.length + 4 + header.length) % 4)) % 4, 0x20);
  writeFileAtomic(path, [Buffer.from(MAGIC), len, header, pad, ...chunks]);
}

export class CheckpointError extends Error {
  override name = "CheckpointError";
  /**
   * `reason`: what is wrong with the file, without advice; `advice`: the fix for a resume
   * checkpoint, the default. Callers that read a file they did not write (a dependency's
   * output, a file the user named) say their own fix with `reason`.
   */
  constructor(
    readonly path: string,
    readonly reason: string,
    advice = "delete it to retrain",
  ) {
    super(`${path}: ${reason}; ${advice}`);
  }
}

/** Reads and verifies a checkpoint; any damage (truncation, flipped bits) is an error, never a silent load. */
export function loadCheckpoint(path: string): Checkpoint {
  const buf = readFileSync(path);
  if (buf.subarray(0, MAGIC.length).toString() !== MAGIC) throw new CheckpointError(path, "not a harness checkpoint (bad magic)");
  const hstart = MAGIC.length + 4;
  if (buf.length < hstart) throw new CheckpointError(path, `truncated (${buf.length} bytes)`);
  const hlen = buf.readUInt32LE(MAGIC.length);
  let header: { epoch: number; rng: DataRng; meta: Record<string, unknown>; entries: Entry[]; sha256: string };
  try {
    header = JSON.parse(buf.subarray(hstart, hstart + hlen).toString());
    if (!Array.isArray(header?.entries) || typeof header.sha256 !== "string") throw new Error("incomplete header");
  } catch {
    throw new CheckpointError(path, "corrupt header");
  }
  let off = hstart + hlen;
  off += (4 - (off % 4)) % 4;
  const need = header.entries.reduce((s, e) => s + e.length * 4, 0);
  if (buf.length - off !== need) throw new CheckpointError(path, `truncated or padded (payload ${buf.length - off} bytes, expected ${need})`);
  const payload = buf.subarray(off);
  const digest = createHash("sha256").update(payload).digest("hex");
  if (digest !== header.sha256) throw new CheckpointError(path, "checksum mismatch (corrupt file)");
  const groups: Record<Entry["group"], Tensors> = { params: {}, buffers: {}, momentum: {}, masks: {} };
  let p = 0;
  for (const e of header.entries) {
    // Copy out so the tensors do not pin the whole file buffer.
    groups[e.group][e.name] = new Float32Array(payload.buffer.slice(payload.byteOffset + p, payload.byteOffset + p + e.length * 4));
    p += e.length * 4;
  }
  return {
    epoch: header.epoch,
    rng: header.rng,
    meta: header.meta,
    state: { params: groups.params, buffers: groups.buffers, momentum: groups.momentum },
    masks: groups.masks,
  };
}

export function checkpointExists(path: string): boolean {
  return existsSync(path);
}

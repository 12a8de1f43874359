import { afterAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CheckpointError, checkResumeRng, loadCheckpoint, saveCheckpoint, type Checkpoint } from "../../src/train/checkpoint.ts";
import { resumePoint } from "../../src/train/train-loop.ts";

/**
 * The checkpoint format, written here by hand from its description (checkpoint.ts:
 * "PHCKPT1\n", the header's byte length as a little-endian uint32, the JSON header with
 * the payload's SHA-256, spaces to a 4-byte boundary, the float32 payload), and the
 * damage loadCheckpoint must refuse rather than load.
 */
const dir = mkdtempSync(join(tmpdir(), "ckpt-format-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function handWritten(o: { header?: Record<string, unknown>; headerText?: string; magic?: string; payload?: Float32Array; sha?: string } = {}): Buffer {
  const payload = o.payload ?? Float32Array.of(1.5, -2, 3, 0.25);
  const bytes = Buffer.from(payload.buffer);
  const header =
    o.headerText ??
    JSON.stringify({
      epoch: 3,
      rng: { seed: 7, stream: "dense" },
      meta: { note: "by hand" },
      entries: [
        { group: "params", name: "w", length: 3 },
        { group: "masks", name: "w", length: 1 },
      ],
      sha256: o.sha ?? createHash("sha256").update(bytes).digest("hex"),
      ...o.header,
    });
  const magic = Buffer.from(o.magic ?? "PHCKPT1\n");
  const len = Buffer.alloc(4);
  len.writeUInt32LE(Buffer.byteLength(header));
  const pad = Buffer.alloc((4 - ((magic.length + 4 + Buffer.byteLength(header)) % 4)) % 4, 0x20);
  return Buffer.concat([magic, len, Buffer.from(header), pad, bytes]);
}

function file(name: string, bytes: Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

test("a file written by hand in the documented format loads: tensors by group and name, epoch, data stream, meta", () => {
  const c = loadCheckpoint(file("hand.ckpt", handWritten()));
  expect(c.epoch).toBe(3);
  expect(c.rng).toEqual({ seed: 7, stream: "dense" });
  expect(c.meta).toEqual({ note: "by hand" });
  expect([...c.state.params.w!]).toEqual([1.5, -2, 3]);
  expect([...c.masks.w!]).toEqual([0.25]);
  expect(c.state.buffers).toEqual({});
});

test("any header length: the payload starts at the next 4-byte boundary, after 0 to 3 spaces", () => {
  const pads = new Set<number>();
  for (const note of ["", "a", "ab", "abc"]) {
    const bytes = handWritten({ header: { meta: { note } } });
    const headerLength = bytes.readUInt32LE(8);
    pads.add((4 - ((12 + headerLength) % 4)) % 4);
    const c = loadCheckpoint(file(`pad-${note.length}.ckpt`, bytes));
    expect(c.meta).toEqual({ note });
    expect([...c.state.params.w!]).toEqual([1.5, -2, 3]);
  }
  expect([...pads].sort()).toEqual([0, 1, 2, 3]);
});

test("saveCheckpoint writes that format: the hand-written file's bytes, for the same contents", () => {
  const p = join(dir, "saved.ckpt");
  const c: Checkpoint = {
    epoch: 3,
    rng: { seed: 7, stream: "dense" },
    meta: { note: "by hand" },
    state: { params: { w: Float32Array.of(1.5, -2, 3) }, buffers: {}, momentum: {} },
    masks: { w: Float32Array.of(0.25) },
  };
  saveCheckpoint(p, c);
  expect(readFileSync(p).equals(handWritten())).toBe(true);
});

test("tensors are stored in name order, so the same state gives the same bytes however it was built", () => {
  const state = (order: string[]) => ({ params: Object.fromEntries(order.map((k) => [k, Float32Array.of(k.length)])), buffers: {}, momentum: {} });
  const a = join(dir, "a.ckpt"),
    b = join(dir, "b.ckpt");
  saveCheckpoint(a, { epoch: 1, rng: { seed: 1 }, meta: {}, state: state(["zz", "a", "mmm"]), masks: {} });
  saveCheckpoint(b, { epoch: 1, rng: { seed: 1 }, meta: {}, state: state(["a", "mmm", "zz"]), masks: {} });
  expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
});

test.each([
  ["another file's magic", handWritten({ magic: "PHCKPT2\n" }), "not a harness checkpoint (bad magic)"],
  ["the magic alone", Buffer.from("PHCKPT1\n"), "truncated (8 bytes)"],
  ["the magic and an empty header", Buffer.concat([Buffer.from("PHCKPT1\n"), Buffer.alloc(4)]), "corrupt header"],
  ["a header that is not JSON", handWritten({ headerText: "{not json" }), "corrupt header"],
  ["a header without entries", handWritten({ header: { entries: undefined } }), "corrupt header"],
  ["a header without its checksum", handWritten({ header: { sha256: 12 } }), "corrupt header"],
  ["a header that is null", handWritten({ headerText: "null" }), "corrupt header"],
  ["a payload short of the entries", handWritten({ payload: Float32Array.of(1, 2, 3) }), "truncated or padded (payload 12 bytes, expected 16)"],
  ["a payload longer than the entries", handWritten({ payload: Float32Array.of(1, 2, 3, 4, 5) }), "truncated or padded (payload 20 bytes, expected 16)"],
  ["a flipped payload bit", handWritten({ sha: createHash("sha256").update("other").digest("hex") }), "checksum mismatch"],
])("%s is refused as damaged, naming the file and the fix", (name, bytes, reason) => {
  const p = file(`${name.replace(/\W+/g, "-")}.ckpt`, bytes);
  let err: unknown;
  try {
    loadCheckpoint(p);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(CheckpointError);
  expect((err as CheckpointError).name).toBe("CheckpointError");
  expect((err as CheckpointError).path).toBe(p);
  expect((err as Error).message).toContain(`${p}: ${reason}`);
  expect((err as Error).message).toEndWith("; delete it to retrain");
});

test("a resume checkpoint of another seed or another stream cannot continue a run; the same seed and stream can", () => {
  expect(() => checkResumeRng("r.ckpt", { seed: 1, stream: "a" }, { seed: 1, stream: "a" })).not.toThrow();
  expect(() => checkResumeRng("r.ckpt", { seed: 1 }, { seed: 1, stream: "" })).not.toThrow();
  expect(() => checkResumeRng("r.ckpt", { seed: 1, stream: "a" }, { seed: 2, stream: "a" })).toThrow(
    'r.ckpt: written with seed 1, stream "a", this run uses seed 2, stream "a"; use another path',
  );
  expect(() => checkResumeRng("r.ckpt", { seed: 1 }, { seed: 1, stream: "b" })).toThrow('written with seed 1, this run uses seed 1, stream "b"');
});

test("resumePoint: none without a file; a damaged one is set aside as .corrupt with a notice, and training starts over", () => {
  expect(resumePoint(join(dir, "absent.ckpt"))).toBeNull();
  const p = file("damaged.ckpt", handWritten({ sha: "0".repeat(64) }));
  const lines: string[] = [];
  expect(resumePoint(p, (l) => lines.push(l))).toBeNull();
  expect(existsSync(p)).toBe(false);
  expect(existsSync(`${p}.corrupt`)).toBe(true);
  expect(lines).toEqual([
    `notice: resume checkpoint ${p} is damaged (${p}: checksum mismatch (corrupt file); delete it to retrain); kept as ${p}.corrupt, training starts over`,
  ]);
  const good = file("good.ckpt", handWritten());
  expect(resumePoint(good)!.epoch).toBe(3);
});

test("resumePoint: a file it cannot read at all (not damage) is an error, not a fresh start", () => {
  const p = join(dir, "a-directory.ckpt");
  mkdirSync(p);
  expect(() => resumePoint(p, () => {})).toThrow(/EISDIR|directory/);
  expect(existsSync(p)).toBe(true);
});

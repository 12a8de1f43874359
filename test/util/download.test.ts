import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DownloadError, downloadFile, removeStaleTemps, tempName, type FetchLike } from "../../src/util/download.ts";

const dir = () => mkdtempSync(join(tmpdir(), "download-"));

/** A body of `chunks` chunks sent `gapMs` apart, announcing `length` bytes; aborting the request breaks it off, as fetch does. */
function slowBody(chunks: Uint8Array[], gapMs: number, length?: number): FetchLike {
  return async (_url, init) => {
    let aborted = false;
    const body = new ReadableStream<Uint8Array>({
      async start(c) {
        init?.signal?.addEventListener("abort", () => {
          aborted = true;
          c.error(init.signal!.reason);
        });
        for (const chunk of chunks) {
          await Bun.sleep(gapMs);
          if (aborted) return;
          c.enqueue(chunk);
        }
        c.close();
      },
    });
    return new Response(body, { headers: length === undefined ? {} : { "content-length": String(length) } });
  };
}

const opts = { connectTimeoutMs: 1000, stallTimeoutMs: 100, hash: "md5" as const };

test("a body that keeps coming, chunk by chunk, is not a stall even when the whole takes longer than the stall timeout", async () => {
  const chunks = Array.from({ length: 6 }, (_, i) => new Uint8Array([i, i, i]));
  const path = join(dir(), "f");
  const digest = await downloadFile("http://x/f", path, { ...opts, fetchImpl: slowBody(chunks, 40) });
  const bytes = readFileSync(path);
  expect(bytes.length).toBe(18);
  expect(digest.toString("hex")).toBe(createHash("md5").update(bytes).digest("hex"));
});

test("a body that stops, or ends short of its announced length, fails with what happened", async () => {
  const stall = await downloadFile("http://x/f", join(dir(), "f"), { ...opts, fetchImpl: slowBody([new Uint8Array(4)], 300) }).catch((e) => e);
  expect(stall).toBeInstanceOf(DownloadError);
  expect((stall as DownloadError).failure).toMatchObject({ kind: "stream", bytes: 0, reason: "download stalled for 100 ms" });
  const short = await downloadFile("http://x/f", join(dir(), "f"), { ...opts, fetchImpl: slowBody([new Uint8Array(4)], 0, 10) }).catch((e) => e);
  expect((short as DownloadError).failure).toEqual({ kind: "truncated", bytes: 4, total: 10 });
});

test("stale temps of dead processes are removed; a live process's and other files stay", () => {
  const d = dir();
  const mine = tempName("pkg", ".part");
  const dead = ".pkg-999999999-abcdef01.part";
  for (const f of [mine, dead, "pkg.tgz", ".other-999999999-abcdef01.part"]) writeFileSync(join(d, f), "");
  removeStaleTemps(d, "pkg");
  expect([mine, dead, "pkg.tgz", ".other-999999999-abcdef01.part"].map((f) => existsSync(join(d, f)))).toEqual([true, false, true, true]);
});

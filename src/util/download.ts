/**
 * Streaming a URL into a file while hashing it, with timeouts for a server that never
 * answers and for a body that stalls, resuming a broken-off file with an HTTP Range
 * request; and the clean-up (or adoption, to resume) of temp files killed downloads left. Callers (the CIFAR-10 download, the CUDA EP installer) turn a
 * DownloadError into their own message with their own fix.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { pidAlive } from "./pid-alive.ts";

export type FetchLike = (url: string, init?: { signal?: AbortSignal; headers?: Record<string, string> }) => Promise<Response>;

export type DownloadFailure =
  /** No response (a network error, or none within the connect timeout). */
  | { kind: "connect"; reason: string }
  | { kind: "http"; status: number; statusText: string }
  /** The body broke off (or stalled) after `bytes`. */
  | { kind: "stream"; bytes: number; reason: string }
  /** The body ended before the length the server announced. */
  | { kind: "truncated"; bytes: number; total: number };

export class DownloadError extends Error {
  constructor(readonly failure: DownloadFailure) {
    super(`download failed: ${JSON.stringify(failure)}`);
  }
}

export interface DownloadOptions {
  fetchImpl?: FetchLike;
  /** Give up if response headers take longer than this (ms). */
  connectTimeoutMs: number;
  /** Give up if the body stalls for longer than this (ms). */
  stallTimeoutMs: number;
  hash: "md5" | "sha512";
  /** After every received chunk; `total` is undefined when the server sends no length. */
  onProgress?: (bytes: number, total: number | undefined) => void;
  /**
   * Continue the bytes already in `path` (a download that broke off) with an HTTP Range
   * request; a server that ignores the range sends the whole file, which replaces them.
   * Without it, `path` must not exist.
   */
  resume?: boolean;
}

const duration = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`);

/** Streams `url` into a new file `path` (or onto its bytes, with `resume`) and returns the hash of the whole file. */
export async function downloadFile(url: string, path: string, o: DownloadOptions): Promise<Buffer> {
  const fetchImpl = o.fetchImpl ?? ((u, init) => fetch(u, init));
  const ctrl = new AbortController();
  let abortReason = "";
  const arm = (ms: number, why: string) =>
    setTimeout(() => {
      abortReason = why;
      ctrl.abort(new Error(why));
    }, ms);
  const have = o.resume && existsSync(path) ? statSync(path).size : 0;
  let timer = arm(o.connectTimeoutMs, `no response within ${duration(o.connectTimeoutMs)}`);
  const fh = await open(path, o.resume ? "a" : "wx");
  try {
    let res: Response;
    try {
      res = await fetchImpl(url, { signal: ctrl.signal, ...(have > 0 ? { headers: { Range: `bytes=${have}-` } } : {}) });
    } catch (e) {
      throw new DownloadError({ kind: "connect", reason: abortReason || (e as Error).message });
    }
    // 416: nothing left after what we have (the caller's checksum decides whether it is whole).
    if (have > 0 && res.status === 416) return await fileDigest(path, o.hash);
    if (!res.ok || !res.body) throw new DownloadError({ kind: "http", status: res.status, statusText: res.statusText });
    // Continued only where the server answered the range from where we stopped; otherwise it sent everything.
    const continued = have > 0 && res.status === 206 && new RegExp(`^bytes ${have}-`).test(res.headers.get("content-range") ?? "");
    if (!continued) await fh.truncate(0);
    const start = continued ? have : 0;
    const hash = createHash(o.hash);
    if (continued) for await (const chunk of Bun.file(path).stream()) hash.update(chunk);
    const lengthHeader = Number(res.headers.get("content-length"));
    const total = Number.isFinite(lengthHeader) && lengthHeader > 0 ? start + lengthHeader : undefined;
    let bytes = start;
    const reader = res.body.getReader();
    const stalled = `download stalled for ${duration(o.stallTimeoutMs)}`;
    clearTimeout(timer);
    timer = arm(o.stallTimeoutMs, stalled);
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        clearTimeout(timer);
        timer = arm(o.stallTimeoutMs, stalled);
        hash.update(value);
        await fh.write(value);
        bytes += value.length;
        o.onProgress?.(bytes, total);
      }
    } catch (e) {
      throw new DownloadError({ kind: "stream", bytes, reason: abortReason || (e as Error).message });
    }
    if (total !== undefined && bytes !== total) throw new DownloadError({ kind: "truncated", bytes, total });
    return hash.digest();
  } finally {
    clearTimeout(timer);
    await fh.close();
  }
}

/** The hash of a file's bytes, streamed so a large archive is not held in memory just to hash it. */
export async function fileDigest(path: string, algorithm: "md5" | "sha512"): Promise<Buffer> {
  const hash = createHash(algorithm);
  for await (const chunk of Bun.file(path).stream()) hash.update(chunk);
  return hash.digest();
}

/** A temp name `.<prefix>-<pid>-<random><suffix>`: removeStaleTemps knows from the pid whether its writer still runs. */
export function tempName(prefix: string, suffix = ""): string {
  return `.${prefix}-${process.pid}-${randomBytes(4).toString("hex")}${suffix}`;
}

/** Names tempName(prefix, suffix) makes; group 1 is the writer's pid. `suffix` is a regex source. */
function tempPattern(prefix: string, suffix: string): RegExp {
  return new RegExp(`^\\.${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-(\\d+)-[0-9a-f]+${suffix}$`);
}

/**
 * Takes over the largest `.part` file a dead process left in `dir` (a download killed or
 * broken off) by renaming it to `path`, so this run can resume it; false when there is
 * none. A live process's part is never taken, and of two runs racing for one part the
 * rename lets exactly one have it.
 */
export function adoptPartial(dir: string, prefix: string, path: string): boolean {
  if (!existsSync(dir)) return false;
  const re = tempPattern(prefix, "\\.part");
  const parts = readdirSync(dir)
    .map((e) => ({ e, m: re.exec(e) }))
    .filter((x) => x.m && !pidAlive(Number(x.m[1])))
    .map((x) => ({ file: join(dir, x.e), size: statSync(join(dir, x.e)).size }))
    .sort((a, b) => b.size - a.size);
  for (const p of parts) {
    try {
      renameSync(p.file, path);
      return true;
    } catch {
      // Another run took it first.
    }
  }
  return false;
}

/** Removes the temp files and folders in `dir` named by tempName(prefix, ...) whose process died (killed runs cannot clean up after themselves). */
export function removeStaleTemps(dir: string, prefix: string): void {
  if (!existsSync(dir)) return;
  const re = tempPattern(prefix, "(\\.[a-z]+)?");
  for (const entry of readdirSync(dir)) {
    const m = re.exec(entry);
    if (m && !pidAlive(Number(m[1]))) rmSync(join(dir, entry), { recursive: true, force: true });
  }
}

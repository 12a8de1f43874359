/**
 * Streaming a URL into a file while hashing it, with timeouts for a server that never
 * answers and for a body that stalls; and the clean-up of temp files that killed
 * downloads left. Callers (the CIFAR-10 download, the CUDA EP installer) turn a
 * DownloadError into their own message with their own fix.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { pidAlive } from "./pid-alive.ts";

export type FetchLike = (url: string, init?: { signal?: AbortSignal }) => Promise<Response>;

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
}

const duration = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`);

/** Streams `url` into a new file `path` (which must not exist) and returns the hash of its bytes. */
export async function downloadFile(url: string, path: string, o: DownloadOptions): Promise<Buffer> {
  const fetchImpl = o.fetchImpl ?? ((u, init) => fetch(u, init));
  const ctrl = new AbortController();
  let abortReason = "";
  const arm = (ms: number, why: string) =>
    setTimeout(() => {
      abortReason = why;
      ctrl.abort(new Error(why));
    }, ms);
  let timer = arm(o.connectTimeoutMs, `no response within ${duration(o.connectTimeoutMs)}`);
  const fh = await open(path, "wx");
  try {
    let res: Response;
    try {
      res = await fetchImpl(url, { signal: ctrl.signal });
    } catch (e) {
      throw new DownloadError({ kind: "connect", reason: abortReason || (e as Error).message });
    }
    if (!res.ok || !res.body) throw new DownloadError({ kind: "http", status: res.status, statusText: res.statusText });
    const lengthHeader = Number(res.headers.get("content-length"));
    const total = Number.isFinite(lengthHeader) && lengthHeader > 0 ? lengthHeader : undefined;
    const hash = createHash(o.hash);
    let bytes = 0;
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

/** Removes the temp files and folders in `dir` named by tempName(prefix, ...) whose process died (killed runs cannot clean up after themselves). */
export function removeStaleTemps(dir: string, prefix: string): void {
  if (!existsSync(dir)) return;
  const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const re = new RegExp(`^\\.${escaped}-(\\d+)-[0-9a-f]+(\\.[a-z]+)?$`);
  for (const entry of readdirSync(dir)) {
    const m = re.exec(entry);
    if (m && !pidAlive(Number(m[1]))) rmSync(join(dir, entry), { recursive: true, force: true });
  }
}

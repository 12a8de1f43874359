import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunnerConfig } from "../../config/generated/runner.ts";
import { validateConfig } from "../../config/load.ts";

/** A tensor crossing the process boundary: raw little-endian bytes, never JSON. */
export type WireTensor = { name: string; data: Float32Array | Int32Array | Uint8Array; shape: number[] };

function wireType(data: WireTensor["data"]): "f32" | "i32" | "u8" {
  return data instanceof Int32Array ? "i32" : data instanceof Uint8Array ? "u8" : "f32";
}

export interface Reply {
  header: Record<string, unknown>;
  tensors: Map<string, Float32Array>;
}

const SERVER = join(import.meta.dir, "server.py");
const STARTUP_MS = 180_000;

/** How long a request may go unanswered before the watchdog kills the server (runner.replyTimeout). */
export interface ReplyLimits {
  baseSeconds: number;
  secondsPerImage: number;
}

/** Set by a worker from its runner's settings (setReplyLimits); until then the runner schema's defaults. */
let replyLimits: ReplyLimits | undefined;

/** The limits of every torch server this process starts from now on. */
export function setReplyLimits(l: ReplyLimits): void {
  replyLimits = { ...l };
}

/** The limits in force: the worker's, else runner.replyTimeout's schema defaults (read once, when a server first starts). */
function currentReplyLimits(): ReplyLimits {
  return (replyLimits ??= validateConfig<RunnerConfig>("runner", {}).replyTimeout);
}

/** Seconds a request carrying `images` images may take. */
export function replyLimitSeconds(l: ReplyLimits, images: number): number {
  return l.baseSeconds + l.secondsPerImage * images;
}
const live = new Set<TorchProcess>();
process.once("exit", () => {
  for (const p of live) p.kill();
});

/**
 * One long-lived Python process serving one trainer (server.py). Requests are
 * synchronous: the caller blocks on a FIFO read while PyTorch computes. That is what
 * lets the trainer's `state` property fetch the weights on demand (they live on the
 * device between steps) behind the plain synchronous property every engine exposes.
 * FIFOs rather than the child's stdio because Node's pipes to a child cannot be read
 * synchronously; a crashed server closes its end, so a read returns EOF, never hangs.
 */
export class TorchProcess {
  /** Shared with the watchdog thread: deadline (ms), server pid, killed flag. */
  private readonly cells = new BigInt64Array(new SharedArrayBuffer(24));
  private readonly watchdog: Worker;
  /** The request in flight, for the watchdog's message. */
  private current = { op: "", limitSeconds: 0 };

  private constructor(
    private readonly child: ReturnType<typeof Bun.spawn>,
    private readonly dir: string,
    private readonly toServer: number,
    private readonly fromServer: number,
    readonly hello: { torch: string; python: string; cuda: boolean; devices: number },
    readonly python: string,
    private readonly limits: ReplyLimits,
  ) {
    Atomics.store(this.cells, 1, BigInt(child.pid));
    this.watchdog = new Worker(new URL("./watchdog-thread.ts", import.meta.url).href);
    this.watchdog.postMessage({ cells: this.cells.buffer, pollMs: Math.min(1000, Math.max(20, limits.baseSeconds * 100)) });
    this.watchdog.unref();
  }

  /** The server's process id (tests stop it to play a hung device). */
  get pid(): number {
    return this.child.pid;
  }

  /** Settles when the server process has ended (its exit code, or null when a signal ended it). */
  get exited(): Promise<number | null> {
    return this.child.exited.then(() => (this.child.signalCode ? null : this.child.exitCode));
  }

  /** Starts `python server.py` and waits until torch has imported (minutes on a cold disk). */
  static async start(python: string, limits: ReplyLimits = currentReplyLimits()): Promise<TorchProcess> {
    const dir = mkdtempSync(join(tmpdir(), "pruning-torch-"));
    const fifoIn = join(dir, "in"),
      fifoOut = join(dir, "out"),
      log = join(dir, "server.log");
    const mk = Bun.spawnSync(["mkfifo", fifoIn, fifoOut]);
    if (mk.exitCode !== 0) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`torch engine: mkfifo failed (${mk.stderr.toString().trim()}); the torch engine needs a POSIX system`);
    }
    const child = Bun.spawn([python, SERVER, fifoIn, fifoOut], {
      stdout: "pipe",
      stderr: Bun.file(log),
      stdin: "ignore",
      env: { ...process.env, PYTHONUNBUFFERED: "1" },
    });
    const fail = (why: string): never => {
      child.kill();
      const tail = existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").slice(-3).join(" | ") : "";
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`torch engine: ${why}${tail ? ` (${tail})` : ""}`);
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const line = await Promise.race([
      firstLine(child.stdout as ReadableStream<Uint8Array>),
      new Promise<null>((done) => (timer = setTimeout(() => done(null), STARTUP_MS))),
    ]);
    // A pending timer would keep this process alive for minutes after its work is done.
    clearTimeout(timer);
    if (line === null) return fail(`${python} did not start the torch server within ${STARTUP_MS / 1000} s`);
    let hello: { ready: boolean; error?: string; torch: string; python: string; cuda: boolean; devices: number };
    try {
      hello = JSON.parse(line);
    } catch {
      return fail(`${python} exited before the torch server started`);
    }
    if (!hello.ready) return fail(`${python}: ${hello.error}`);
    // The server opens its reading end first, then its writing end: open in the same order.
    const toServer = openSync(fifoIn, "w");
    const fromServer = openSync(fifoOut, "r");
    const p = new TorchProcess(child, dir, toServer, fromServer, hello, python, limits);
    live.add(p);
    return p;
  }

  /** Sends one request and waits for its reply; a server-side exception is thrown here with its Python traceback's last line. */
  request(header: Record<string, unknown>, tensors: WireTensor[] = []): Reply {
    // The work asked: the images the request names (several steps, a whole split), else its input x's batch.
    const images = typeof header.images === "number" ? header.images : (tensors.find((t) => t.name === "x")?.shape[0] ?? 0);
    this.current = { op: String(header.op), limitSeconds: replyLimitSeconds(this.limits, images) };
    Atomics.store(this.cells, 0, BigInt(Date.now() + Math.ceil(this.current.limitSeconds * 1000)));
    try {
      return this.exchange(header, tensors);
    } finally {
      Atomics.store(this.cells, 0, 0n);
    }
  }

  private exchange(header: Record<string, unknown>, tensors: WireTensor[]): Reply {
    const head = new TextEncoder().encode(JSON.stringify({ ...header, tensors: tensors.map((t) => [t.name, wireType(t.data), t.shape]) }));
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, head.length, true);
    this.write(len);
    this.write(head);
    for (const t of tensors) this.write(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    const n = new DataView(this.read(4).buffer).getUint32(0, true);
    const reply = JSON.parse(new TextDecoder().decode(this.read(n)), nonFinite) as Record<string, unknown> & {
      tensors: [string, string, number[]][];
      error?: string;
      traceback?: string;
    };
    const out = new Map<string, Float32Array>();
    for (const [name, , shape] of reply.tensors) {
      const count = shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(count);
      this.readInto(new Uint8Array(data.buffer));
      out.set(name, data);
    }
    if (reply.error) throw new Error(`torch engine (${header.op}): ${reply.error}`);
    const { tensors: _, ...rest } = reply;
    return { header: rest, tensors: out };
  }

  private write(bytes: Uint8Array): void {
    let off = 0;
    try {
      while (off < bytes.length) off += writeSync(this.toServer, bytes, off, bytes.length - off);
    } catch (e) {
      throw this.died(`write failed: ${(e as Error).message}`);
    }
  }

  private read(n: number): Uint8Array {
    const out = new Uint8Array(n);
    this.readInto(out);
    return out;
  }

  private readInto(out: Uint8Array): void {
    let off = 0;
    while (off < out.length) {
      const r = readSync(this.fromServer, out, off, out.length - off, null);
      if (r === 0) throw this.died("the server closed its pipe");
      off += r;
    }
  }

  private died(what: string): Error {
    const log = join(this.dir, "server.log");
    const tail = existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").slice(-5).join("\n") : "";
    const hung = Atomics.load(this.cells, 2) === 1n;
    this.kill();
    if (hung)
      return new Error(
        `torch engine: no reply to "${this.current.op}" within ${this.current.limitSeconds} s (a hung GPU kernel or a stopped Python process); ` +
          `the watchdog killed the Python process (${this.python}). The attempt fails and the unit resumes from its last checkpoint; ` +
          `if the work is this slow on purpose, raise runner.replyTimeout (baseSeconds ${this.limits.baseSeconds}, secondsPerImage ${this.limits.secondsPerImage})`,
      );
    return new Error(`torch engine: ${what}; the Python process (${this.python}) has stopped${tail ? `:\n${tail}` : ""}`);
  }

  /** Asks the server to exit, then cleans up; safe to call twice. */
  close(): void {
    if (!live.has(this)) return;
    try {
      this.request({ op: "close" });
    } catch {
      // already gone
    }
    this.kill();
  }

  kill(): void {
    live.delete(this);
    void this.watchdog.terminate();
    for (const fd of [this.toServer, this.fromServer]) {
      try {
        closeSync(fd);
      } catch {
        // closed
      }
    }
    this.child.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  let text = "";
  const decoder = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return text;
    text += decoder.decode(value, { stream: true });
    const nl = text.indexOf("\n");
    if (nl >= 0) {
      reader.releaseLock();
      return text.slice(0, nl);
    }
  }
}

/** server.py's json_safe, undone: a diverged step's loss arrives as "NaN" or "Infinity", a number again. */
function nonFinite(_key: string, v: unknown): unknown {
  return v === "NaN" ? NaN : v === "Infinity" ? Infinity : v === "-Infinity" ? -Infinity : v;
}

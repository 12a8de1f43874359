import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A tensor crossing the process boundary: raw little-endian bytes, never JSON. */
export type WireTensor = { name: string; data: Float32Array | Int32Array; shape: number[] };

export interface Reply {
  header: Record<string, unknown>;
  tensors: Map<string, Float32Array>;
}

const SERVER = join(import.meta.dir, "server.py");
const STARTUP_MS = 180_000;
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
  private constructor(
    private readonly child: ReturnType<typeof Bun.spawn>,
    private readonly dir: string,
    private readonly toServer: number,
    private readonly fromServer: number,
    readonly hello: { torch: string; python: string; cuda: boolean; devices: number },
    readonly python: string,
  ) {}

  /** Starts `python server.py` and waits until torch has imported (minutes on a cold disk). */
  static async start(python: string): Promise<TorchProcess> {
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
    const p = new TorchProcess(child, dir, toServer, fromServer, hello, python);
    live.add(p);
    return p;
  }

  /** Sends one request and waits for its reply; a server-side exception is thrown here with its Python traceback's last line. */
  request(header: Record<string, unknown>, tensors: WireTensor[] = []): Reply {
    const head = new TextEncoder().encode(
      JSON.stringify({ ...header, tensors: tensors.map((t) => [t.name, t.data instanceof Int32Array ? "i32" : "f32", t.shape]) }),
    );
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, head.length, true);
    this.write(len);
    this.write(head);
    for (const t of tensors) this.write(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    const n = new DataView(this.read(4).buffer).getUint32(0, true);
    const reply = JSON.parse(new TextDecoder().decode(this.read(n))) as Record<string, unknown> & {
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
    this.kill();
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

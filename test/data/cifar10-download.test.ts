import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { DataError, downloadCifar10, findCifar10, loadCifar10Dir } from "../../src/data/index.ts";
import type { FetchLike } from "../../src/data/index.ts";
import { cifarLabel, cifarTarGz, makeTempDir, dataErrorOf } from "../fixtures/data-fixtures.ts";

const RECORDS = 2;
const tarball = cifarTarGz(RECORDS);
const md5 = createHash("md5").update(tarball).digest("hex");
const tmp = makeTempDir("cifar-dl-");
let server: ReturnType<typeof Bun.serve>;
/** Range headers the server received ("" for none), in order. */
const ranges: string[] = [];
let base = "";

beforeAll(() => {
  server = Bun.serve({
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/good") return new Response(tarball, { headers: { "content-length": String(tarball.length) } });
      if (path === "/wrong") return new Response(tarball.slice().reverse());
      if (path === "/missing") return new Response("not found", { status: 404 });
      if (path === "/ranged" || path === "/norange") {
        const range = req.headers.get("range");
        ranges.push(range ?? "");
        const from = range && path === "/ranged" ? Number(/^bytes=(\d+)-$/.exec(range)![1]) : 0;
        if (from === 0) return new Response(tarball, { headers: { "content-length": String(tarball.length) } });
        const rest = tarball.subarray(from);
        return new Response(rest, {
          status: 206,
          headers: { "content-length": String(rest.length), "content-range": `bytes ${from}-${tarball.length - 1}/${tarball.length}` },
        });
      }
      if (path === "/stall") {
        // Sends a first chunk, then never finishes: a hung server or a run killed mid-download.
        return new Response(
          new ReadableStream({
            start(c) {
              c.enqueue(tarball.subarray(0, 1000));
            },
          }),
        );
      }
      return new Response("?", { status: 500 });
    },
  });
  base = `http://localhost:${server.port}`;
});
afterAll(() => {
  server.stop(true);
  tmp.cleanup();
});

const opts = (cacheDir: string, path: string) => ({ cacheDir, url: `${base}${path}`, md5, recordsPerFile: RECORDS });

/** Only the finished dataset dir may remain: no temp files, no extraction dirs. */
function entries(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

describe("CIFAR-10 download", () => {
  test("downloads, reports progress, verifies MD5, extracts into place and cleans up", async () => {
    const cacheDir = join(tmp.dir, "ok");
    const progress: [number, number | undefined][] = [];
    const dir = await downloadCifar10({ ...opts(cacheDir, "/good"), onProgress: (b, t) => progress.push([b, t]) });
    expect(dir).toBe(join(cacheDir, "cifar-10-batches-bin"));
    expect(findCifar10(cacheDir, { recordsPerFile: RECORDS })).toBe(dir);
    expect(entries(cacheDir)).toEqual(["cifar-10-batches-bin"]);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toEqual([tarball.length, tarball.length]);
    const ds = await loadCifar10Dir(dir, { recordsPerFile: RECORDS });
    expect(ds.test.labels[1]).toBe(cifarLabel(5, 1));
    // A second call finds the cache and never touches the network.
    const failingFetch: FetchLike = () => Promise.reject(new Error("network used"));
    expect(await downloadCifar10({ ...opts(cacheDir, "/good"), fetchImpl: failingFetch })).toBe(dir);
  });

  test("wrong MD5 is rejected with expected vs actual and leaves nothing complete-looking", async () => {
    const cacheDir = join(tmp.dir, "md5");
    const e = await dataErrorOf(downloadCifar10(opts(cacheDir, "/wrong")));
    expect(e.message).toContain("MD5 mismatch");
    expect(e.message).toContain(md5);
    expect(e.message).toContain(createHash("md5").update(tarball.slice().reverse()).digest("hex"));
    expect(findCifar10(cacheDir, { recordsPerFile: RECORDS })).toBeNull();
    expect(entries(cacheDir)).toEqual([]);
  });

  test("a hand-placed archive with a wrong MD5 is named with the fix", async () => {
    const cacheDir = join(tmp.dir, "manual");
    await Bun.write(join(cacheDir, "cifar-10-binary.tar.gz"), new Uint8Array([1, 2, 3]));
    const e = await dataErrorOf(downloadCifar10(opts(cacheDir, "/good")));
    expect(e.message).toContain(join(cacheDir, "cifar-10-binary.tar.gz"));
    expect(e.message).toContain("Delete");
    expect(findCifar10(cacheDir, { recordsPerFile: RECORDS })).toBeNull();
  });

  test("a hand-placed valid archive is used without downloading", async () => {
    const cacheDir = join(tmp.dir, "manual-ok");
    await Bun.write(join(cacheDir, "cifar-10-binary.tar.gz"), tarball);
    const noFetch: FetchLike = () => Promise.reject(new Error("network used"));
    const dir = await downloadCifar10({ ...opts(cacheDir, "/good"), fetchImpl: noFetch });
    expect(findCifar10(cacheDir, { recordsPerFile: RECORDS })).toBe(dir);
  });

  test("HTTP errors and stalled transfers fail cleanly", async () => {
    const cacheDir = join(tmp.dir, "http");
    expect((await dataErrorOf(downloadCifar10(opts(cacheDir, "/missing")))).message).toContain("HTTP 404");
    const stalled = await dataErrorOf(downloadCifar10({ ...opts(cacheDir, "/stall"), stallTimeoutMs: 150 }));
    expect(stalled.message).toContain("stalled");
    expect(stalled.message).toContain("re-run to resume the download");
    // Nothing complete-looking: only the partial download, kept for the next run.
    expect(entries(cacheDir)).toEqual([expect.stringMatching(new RegExp(`^\\.cifar10-${process.pid}-[0-9a-f]+\\.part$`))]);
  });

  test("a broken-off download is resumed by the next run with a Range request, or fetched whole from a server that ignores ranges", async () => {
    for (const [path, expectRange] of [
      ["/ranged", "bytes=1000-"],
      ["/norange", "bytes=1000-"],
    ] as const) {
      const cacheDir = join(tmp.dir, `resume${path.slice(1)}`);
      mkdirSync(cacheDir, { recursive: true });
      // What a killed run leaves: its first 1,000 bytes under its (now dead) pid; 4194305 exceeds Linux's largest pid.
      writeFileSync(join(cacheDir, ".cifar10-4194305-0a1b2c3d.part"), tarball.subarray(0, 1000));
      // A live run's part is another run's business: never taken.
      writeFileSync(join(cacheDir, `.cifar10-${process.pid}-99999999.part`), tarball.subarray(0, 500));
      ranges.length = 0;
      const lines: string[] = [];
      const dir = await downloadCifar10({ ...opts(cacheDir, path), log: (l) => lines.push(l) });
      expect(findCifar10(cacheDir, { recordsPerFile: RECORDS })).toBe(dir);
      expect(ranges).toEqual([expectRange]);
      expect(lines).toContain("data: resuming the CIFAR-10 binary download from 1,000 bytes");
      expect(entries(cacheDir)).toEqual([`.cifar10-${process.pid}-99999999.part`, "cifar-10-batches-bin"]);
    }
  });

  test("a fake fetchImpl that cannot connect gives a clear error", async () => {
    const cacheDir = join(tmp.dir, "offline");
    const offline: FetchLike = () => Promise.reject(new Error("getaddrinfo ENOTFOUND www.cs.toronto.edu"));
    const e = await dataErrorOf(downloadCifar10({ ...opts(cacheDir, "/good"), fetchImpl: offline }));
    expect(e.message).toContain("ENOTFOUND");
    expect(e.message).toContain("--data-dir");
  });

  test("a killed download leaves nothing complete-looking, and the next run clears its temp file", async () => {
    const cacheDir = join(tmp.dir, "killed");
    const script = join(tmp.dir, "killed-child.ts");
    const mod = resolve(import.meta.dir, "../../src/data/cifar10-download.ts");
    await Bun.write(
      script,
      `import { downloadCifar10 } from ${JSON.stringify(mod)};
       await downloadCifar10({ ...${JSON.stringify(opts(cacheDir, "/stall"))}, onProgress: () => console.log("progress") });`,
    );
    const child = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "inherit" });
    const reader = child.stdout.getReader();
    let seen = "";
    while (!seen.includes("progress")) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += new TextDecoder().decode(value);
    }
    child.kill("SIGKILL");
    await child.exited;
    expect(seen).toContain("progress");
    expect(findCifar10(cacheDir, { recordsPerFile: RECORDS })).toBeNull();
    expect(entries(cacheDir).some((f) => f.endsWith(".part"))).toBe(true);

    await downloadCifar10(opts(cacheDir, "/good"));
    expect(entries(cacheDir)).toEqual(["cifar-10-batches-bin"]);
  });
});

import { expect, test } from "bun:test";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { probeTorch } from "../../src/engine/torch/detect.ts";
import { replyLimitSeconds, TorchProcess } from "../../src/engine/torch/torch-process.ts";

const HANGING = join(import.meta.dir, "../fixtures/torch/hanging-server.py");
const probe = await probeTorch();
const python = "found" in probe ? probe.found.python : null;

/** An interpreter that runs the hanging stand-in whatever script it is asked to run. */
function hangingPython(): string {
  const exe = join(mkdtempSync(join(tmpdir(), "hanging-python-")), "python");
  writeFileSync(exe, `#!/bin/sh\nshift\nexec python3 ${JSON.stringify(HANGING)} server.py "$@"\n`);
  chmodSync(exe, 0o755);
  return exe;
}

const batch = (n: number) => ({ name: "x", data: new Float32Array(n * 3 * 4 * 4), shape: [n, 3, 4, 4] });

test("the reply limit grows with the images a request carries", () => {
  expect(replyLimitSeconds({ baseSeconds: 600, secondsPerImage: 0.25 }, 0)).toBe(600);
  expect(replyLimitSeconds({ baseSeconds: 600, secondsPerImage: 0.25 }, 128)).toBe(632);
});

test("a request that gets no reply is ended by the watchdog: the server is killed and the error names the request and the limit", async () => {
  const server = await TorchProcess.start(hangingPython(), { baseSeconds: 1, secondsPerImage: 0.01 });
  const t0 = Date.now();
  expect(() => server.request({ op: "train-step", lr: 0.1 }, [batch(50)])).toThrow(
    /no reply to "train-step" within 1.5 s .*the watchdog killed the Python process.*resumes from its last checkpoint/s,
  );
  const waited = (Date.now() - t0) / 1000;
  expect(waited).toBeGreaterThanOrEqual(1.5);
  expect(waited).toBeLessThan(15);
  // The process is gone (killed), not left behind.
  expect(await server.exited).toBeNull();
}, 60_000);

test.skipIf(!python)(
  "a stopped torch server (SIGSTOP) is killed by the watchdog instead of blocking forever",
  async () => {
    const server = await TorchProcess.start(python!, { baseSeconds: 1, secondsPerImage: 0 });
    process.kill(server.pid, "SIGSTOP");
    expect(() => server.request({ op: "get-state" })).toThrow(/no reply to "get-state" within 1 s/);
    expect(await server.exited).toBeNull();
  },
  120_000,
);

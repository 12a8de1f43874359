import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../../src/config/load.ts";
import { DeviceError } from "../../src/engine/device-error.ts";
import { failureKind } from "../../src/runner/failure-kind.ts";
import { cudaOomStep, runLocalPool, type PoolEvent } from "../../src/runner/local-pool.ts";
import { outcomeExitCode, runUnits } from "../../src/runner/run-units.ts";
import { RunStore } from "../../src/runner/store.ts";
import { runner, tempRuns, unit } from "./helpers.ts";

const quiet = { reportDir: "/nonexistent", log: () => {}, progress: false };

test("failures are classed: settings, devices and host memory are permanent; a CUDA OOM is its own kind; the rest is retried", () => {
  expect(failureKind(new ConfigError("x")).kind).toBe("permanent");
  expect(failureKind(new DeviceError("--gpus: ...")).kind).toBe("permanent");
  expect(failureKind(new Error("torch engine (train-step): CUDA out of memory. Tried to allocate 20.00 MiB")).kind).toBe("cuda-oom");
  expect(failureKind(new Error("torch.OutOfMemoryError: CUDA out of memory.")).kind).toBe("cuda-oom");
  const host = failureKind(new RangeError("Out of memory"));
  expect(host.kind).toBe("permanent");
  expect(host.message).toMatch(/reduce model.width or optim.batchSize/);
  expect(failureKind(new RangeError("Maximum call stack size exceeded")).kind).toBe("transient");
  expect(failureKind(new Error("the server closed its pipe")).kind).toBe("transient");
});

test("a unit that exhausts the host's memory fails once, not maxAttempts times, and says what to change", async () => {
  const runs = tempRuns();
  const u = unit("host-oom", {});
  const out = await runUnits([u], runner(runs, { maxAttempts: 3 }), quiet);
  expect(new RunStore(runs).attempts(u.id)).toBe(1);
  expect(out!.failed[0]!.error).toMatch(/this machine's memory cannot hold the unit \(RangeError: Out of memory\)/);
  expect(outcomeExitCode(out!)).toBe(2);
  expect(JSON.parse(readFileSync(join(runs, u.id, "failed.json"), "utf8")).kind).toBe("permanent");
}, 60_000);

test("a CUDA OOM with units sharing the GPU is recorded as such and retried with fewer units on that GPU", async () => {
  const runs = tempRuns();
  const store = new RunStore(runs);
  const units = [1, 2].map((v) => unit("cuda-oom", { value: v, sleepMs: 600, oomAttempts: 1 }));
  for (const u of units) store.plan(u);
  const events: PoolEvent[] = [];
  let kinds: string[] = [];
  const states = await runLocalPool(units, store, {
    jobs: 2,
    threadsPerJob: 1,
    maxAttempts: 3,
    staleLockSeconds: 60,
    gpus: ["0"],
    jobsPerGpu: 2,
    onEvent: (e) => {
      events.push(e);
      if (e.unit?.detail?.startsWith("CUDA out of memory")) kinds = units.map((u) => store.failure(u.id)?.kind ?? "").filter(Boolean);
    },
  });
  expect([...states.values()]).toEqual(["done", "done"]);
  expect(kinds).toContain("cuda-oom");
  expect(events.find((e) => e.unit?.detail?.startsWith("CUDA out of memory"))!.unit!.detail).toBe(
    "CUDA out of memory with 2 units on GPU 0; retrying with at most 1 there",
  );
  // After the OOM, never two on the GPU again: the retries ran one after the other.
  const running = events.filter((e) => e.unit?.state === "running");
  const afterOom = events.findIndex((e) => e.unit?.detail?.startsWith("CUDA out of memory"));
  expect(Math.max(...events.slice(afterOom).map((e) => e.running))).toBeLessThanOrEqual(1);
  expect(running.length).toBe(4);
}, 60_000);

test("a CUDA OOM with the GPU to itself is not retried blindly: it fails and says what to change", () => {
  expect(cudaOomStep("u", "0", 1, false)).toEqual({
    retry: false,
    detail: "CUDA out of memory with GPU 0 to itself: reduce optim.batchSize or model.width, or use a GPU with more memory (unit u)",
  });
  expect(cudaOomStep("u", "1", 3, false)).toEqual({ retry: true, cap: 2, detail: "CUDA out of memory with 3 units on GPU 1; retrying with at most 2 there" });
  expect(cudaOomStep("u", "1", 3, true).retry).toBe(false);
  expect(cudaOomStep("u", undefined, 0, false).detail).toMatch(/run fewer units at once \(--jobs\)/);
});

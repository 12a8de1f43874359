/** engine.name=auto on the CPU (src/engine/auto-probe.ts): the measured pick, its check, its cache and lock, and what records and reports say. */
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AUTO_PROBE_ENV, autoProbeOff, measuredAutoPick, type AutoProbeSettings } from "../../src/engine/auto-probe.ts";
import { OnnxTrainer } from "../../src/engine/onnx/onnx-trainer.ts";
import { createTrainer, resolveAutoEngine, trainerFacts } from "../../src/engine/registry.ts";
import { freshState } from "../../src/engine/state.ts";
import { nvidiaDriverPresent } from "../../src/engine/torch/detect.ts";
import type { ModelState, Trainer } from "../../src/engine/types.ts";
import { autoPickNote } from "../../src/report/markdown.ts";
import { optim, tinySpecs } from "../helpers/tiny-models.ts";

// Each probe builds two ONNX sessions and times a few slowed steps.
setDefaultTimeout(30_000);
const dir = mkdtempSync(join(tmpdir(), "auto-probe-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const spec = tinySpecs()[0]!;
const settings: AutoProbeSettings = { enabled: true, warmupSteps: 1, steps: 2, margin: 1.1, tolerance: 0.02 };

/**
 * Stand-ins for the two engines: ONNX trainers, one slowed by `delayMs` a step, and its
 * gradients scaled by `gradScale` (a wrong kernel). Counts how many were built.
 */
function engines(o: { onnxDelay?: number; torchDelay?: number; torchGradScale?: number }) {
  const built = { onnx: 0, torch: 0 };
  const make =
    (which: "onnx" | "torch", delayMs: number, gradScale = 1) =>
    async (s: ModelState): Promise<Trainer> => {
      built[which]++;
      const t = await OnnxTrainer.create({ spec, ...optim, threads: 1, provider: "cpu" }, s);
      return new Proxy(t, {
        get(target, key) {
          if (key === "trainStep") return async (b: Parameters<Trainer["trainStep"]>[0], lr: number) => (await Bun.sleep(delayMs), target.trainStep(b, lr));
          if (key === "gradients")
            return async (b: Parameters<Trainer["gradients"]>[0]) => {
              const g = await target.gradients(b);
              return { ...g, grads: Object.fromEntries(Object.entries(g.grads).map(([k, v]) => [k, v.map((x) => x * gradScale)])) };
            };
          const v = Reflect.get(target, key, target);
          return typeof v === "function" ? v.bind(target) : v;
        },
        set: (target, key, value) => Reflect.set(target, key, value, target),
      });
    };
  return { built, make: { onnx: make("onnx", o.onnxDelay ?? 0), torch: make("torch", o.torchDelay ?? 0, o.torchGradScale) } };
}

const pick = (cacheDir: string, e: ReturnType<typeof engines>, s = settings) =>
  measuredAutoPick({ spec, batchSize: 8, threads: 1, settings: s, torch: { version: "test", python: "none" }, make: e.make, cacheDir });

test("the faster engine is picked, torch only when it is at least `margin` times onnx's speed; the numbers and the rule are in the reason", async () => {
  const slowOnnx = await pick(join(dir, "a"), engines({ onnxDelay: 40 }));
  expect(slowOnnx.engine).toBe("torch");
  expect(slowOnnx.result.onnx.msPerStep).toBeGreaterThan(40);
  expect(slowOnnx.result.torch.imagesPerSecond).toBeGreaterThan(1.1 * slowOnnx.result.onnx.imagesPerSecond);
  expect(slowOnnx.why).toMatch(
    /^measured on this machine: torch \d+ img\/s vs onnx \d+ img\/s \(batch 8, 1 thread\(s\)\); its step agrees with onnx's .*; torch is at least 1.1x onnx$/,
  );
  const slowTorch = await pick(join(dir, "b"), engines({ torchDelay: 40 }));
  expect(slowTorch.engine).toBe("onnx");
  expect(slowTorch.why).toEndWith("torch is under 1.1x onnx");
  // Faster, but not by the margin: 5 ms more a step is not 100x as slow as any real step (over 0.05 ms).
  const margin = await pick(join(dir, "c"), engines({ onnxDelay: 5 }), { ...settings, margin: 100 });
  expect(margin.engine).toBe("onnx");
});

test("a torch whose training step disagrees with onnx's is never picked, however fast", async () => {
  const r = await pick(join(dir, "d"), engines({ onnxDelay: 40, torchGradScale: 2 }));
  expect(r.engine).toBe("onnx");
  expect(r.result.check.passed).toBe(false);
  expect(r.why).toContain("its step disagrees with onnx's (gradient of");
  expect(r.why).toContain("> 0.02");
});

test("a probe is measured once per machine and case: later calls, and a call waiting on another's lock, read the cache", async () => {
  const cache = join(dir, "e");
  const e = engines({ onnxDelay: 40 });
  const [a, b] = await Promise.all([pick(cache, e), pick(cache, e)]);
  expect(e.built).toEqual({ onnx: 1, torch: 1 });
  expect(b.result).toEqual(a.result);
  const again = await pick(cache, e);
  expect(e.built).toEqual({ onnx: 1, torch: 1 });
  expect(again.why).toMatch(/^measured on this machine \(\d{4}-\d{2}-\d{2}, cached\): /);
  // Another batch size is another case; no lock file is left behind.
  await measuredAutoPick({ spec, batchSize: 4, threads: 1, settings, torch: { version: "test", python: "none" }, make: e.make, cacheDir: cache });
  expect(e.built).toEqual({ onnx: 2, torch: 2 });
  expect(readdirSync(join(cache, "engine-probe")).filter((f) => f.endsWith(".lock"))).toEqual([]);
});

test.skipIf(nvidiaDriverPresent())(
  "without a GPU: the probe off (the test suite's env, or the setting) or no batch size to measure at: onnx, saying why; the record keeps the pick",
  async () => {
    expect(process.env[AUTO_PROBE_ENV]).toBe("off");
    expect(autoProbeOff(settings)).toBe(true);
    expect(autoProbeOff(settings, {})).toBe(false);
    expect(autoProbeOff({ ...settings, enabled: false }, {})).toBe(true);
    const o = { spec, ...optim, threads: 1 };
    expect(await resolveAutoEngine({ engine: "auto", batchSize: 8, autoProbe: settings }, o)).toEqual({
      engine: "onnx",
      why: `no NVIDIA driver loaded; the CPU engines are not measured (engine.autoProbe.enabled=false or ${AUTO_PROBE_ENV}=off)`,
    });
    expect(await resolveAutoEngine({ engine: "auto" }, o)).toEqual({ engine: "onnx", why: "no NVIDIA driver loaded" });
    const t = await createTrainer({ engine: "auto", batchSize: 8, autoProbe: settings }, o, freshState(spec, 1));
    await t.dispose();
    expect(trainerFacts().at(-1)).toMatchObject({
      engine: "onnx",
      autoPick: "onnx: no NVIDIA driver loaded; the CPU engines are not measured (engine.autoProbe.enabled=false or PRUNING_HARNESS_AUTO_PROBE=off)",
    });
  },
);

test("the report header: per engine picked, its units and one reason (a cache date left out), and how many reasons there were", () => {
  const rec = (...picks: string[]) => ({ env: { trainers: picks.map((autoPick) => ({ autoPick })) } });
  expect(autoPickNote([{ env: {} }, rec()])).toBe("");
  expect(
    autoPickNote([
      rec("onnx: measured on this machine: torch 1 img/s vs onnx 2 img/s"),
      // One unit with two trainers of one pick counts once.
      rec(
        "onnx: measured on this machine (2026-01-02, cached): torch 1 img/s vs onnx 2 img/s",
        "onnx: measured on this machine: torch 1 img/s vs onnx 2 img/s",
      ),
      rec("onnx: measured on this machine: torch 3 img/s vs onnx 4 img/s"),
      rec("torch: measured on this machine: torch 9 img/s vs onnx 2 img/s"),
    ]),
  ).toBe(
    "; engine auto picked onnx for 3 units (measured on this machine: torch 1 img/s vs onnx 2 img/s; 2 different reasons (models, batch sizes or thread counts), each in its unit's record) and torch for 1 unit (measured on this machine: torch 9 img/s vs onnx 2 img/s)",
  );
});

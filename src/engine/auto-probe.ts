import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { availableParallelism, cpus, hostname } from "node:os";
import { dirname, join } from "node:path";
import type { EngineConfig } from "../config/generated/training.ts";
import { defaultCacheDir } from "../data/cache.ts";
import type { ModelSpec } from "../models/spec.ts";
import { writeFileAtomic } from "../util/atomic-write.ts";
import { checkBatch, checkProvider, type ProviderCheck } from "./provider-check.ts";
import { freshState } from "./state.ts";
import { cloneState, type Batch, type ModelState, type Trainer } from "./types.ts";

/** engine.autoProbe with its defaults filled in. */
export type AutoProbeSettings = Required<NonNullable<EngineConfig["autoProbe"]>>;

/** What makes two probes comparable: the machine, the runtimes, the model, the batch and the threads. */
export interface ProbeKey {
  host: string;
  cpu: string;
  cores: number;
  threads: number;
  batchSize: number;
  model: { arch: string; inputShape: number[]; numClasses: number; params: string };
  onnxruntime: string;
  torch: { version: string; python: string };
}

export interface EngineSpeed {
  imagesPerSecond: number;
  msPerStep: number;
}

/** One measured probe, as the cache keeps it. */
export interface AutoProbeResult {
  key: ProbeKey;
  measuredAt: string;
  settings: AutoProbeSettings;
  onnx: EngineSpeed;
  torch: EngineSpeed;
  /** torch's training step against onnx's, from the same weights and batch. */
  check: Pick<ProviderCheck, "passed" | "worst" | "tolerance">;
  picked: "onnx" | "torch";
}

/** The env variable that turns the probe off (auto then picks onnx on the CPU); the test suite sets it. */
export const AUTO_PROBE_ENV = "PRUNING_HARNESS_AUTO_PROBE";

export const autoProbeOff = (s: AutoProbeSettings, env = process.env) => !s.enabled || env[AUTO_PROBE_ENV] === "off";

const ORT_VERSION = (() => {
  try {
    return (JSON.parse(readFileSync(require.resolve("onnxruntime-node/package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
})();

export function probeKey(spec: ModelSpec, o: { batchSize: number; threads: number; torch: ProbeKey["torch"] }): ProbeKey {
  const shapes = spec.params.map((p) => `${p.name}:${p.shape.join("x")}`).join(",");
  return {
    host: hostname(),
    cpu: cpus()[0]?.model ?? "unknown",
    cores: availableParallelism(),
    threads: o.threads,
    batchSize: o.batchSize,
    model: {
      arch: spec.arch,
      inputShape: [...spec.inputShape],
      numClasses: spec.numClasses,
      params: createHash("sha256").update(shapes).digest("hex").slice(0, 16),
    },
    onnxruntime: ORT_VERSION,
    torch: o.torch,
  };
}

/** The probe's line for logs and records: what was measured, and why that engine. */
export function probeWhy(r: AutoProbeResult, reused: boolean): string {
  const n = (s: EngineSpeed) => `${s.imagesPerSecond.toFixed(0)} img/s`;
  const agree = r.check.passed
    ? `its step agrees with onnx's (worst relative error ${r.check.worst.relError.toExponential(1)} in ${r.check.worst.what})`
    : `its step disagrees with onnx's (${r.check.worst.what}: relative error ${r.check.worst.relError.toExponential(1)} > ${r.check.tolerance})`;
  const rule = r.picked === "torch" ? "at least" : r.check.passed ? "under" : "";
  return (
    `measured on this machine${reused ? ` (${r.measuredAt.slice(0, 10)}, cached)` : ""}: torch ${n(r.torch)} vs onnx ${n(r.onnx)} ` +
    `(batch ${r.key.batchSize}, ${r.key.threads} thread(s)); ${agree}${rule ? `; torch is ${rule} ${r.settings.margin}x onnx` : ""}`
  );
}

/** Images per second of `steps` training steps on one batch, after `warmup` untimed ones; the trainer's state is restored. */
async function speed(t: Trainer, batch: Batch, warmup: number, steps: number): Promise<EngineSpeed> {
  const start = cloneState(t.state);
  for (let i = 0; i < warmup; i++) await t.trainStep(batch, 0.01);
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await t.trainStep(batch, 0.01);
  const ms = (performance.now() - t0) / steps;
  t.state = start;
  return { imagesPerSecond: (batch.size * 1000) / ms, msPerStep: ms };
}

/** How long a process waits for another's probe of the same case before measuring itself. */
const LOCK_WAIT_MS = 300_000;

/**
 * engine.name=auto on the CPU: the faster of the ONNX and torch engines for this model,
 * batch and thread count, measured once per machine and cached. torch is picked only if
 * its training step agrees with onnx's (checkProvider, onnx the reference) and it is at
 * least `margin` times as fast. A second process asking while one measures waits for its
 * answer, so concurrent workers neither probe twice nor disturb each other's timing.
 */
export async function measuredAutoPick(o: {
  spec: ModelSpec;
  batchSize: number;
  threads: number;
  settings: AutoProbeSettings;
  torch: ProbeKey["torch"];
  make: { onnx: (s: ModelState) => Promise<Trainer>; torch: (s: ModelState) => Promise<Trainer> };
  cacheDir?: string;
  log?: (line: string) => void;
}): Promise<{ engine: "onnx" | "torch"; why: string; result: AutoProbeResult }> {
  const key = probeKey(o.spec, o);
  const file = join(
    o.cacheDir ?? defaultCacheDir(),
    "engine-probe",
    `${createHash("sha256")
      .update(JSON.stringify({ key, settings: o.settings }))
      .digest("hex")
      .slice(0, 24)}.json`,
  );
  /** The cached probe's answer, or null while none is cached. */
  const cached = (): { engine: "onnx" | "torch"; why: string; result: AutoProbeResult } | null => {
    try {
      const r = JSON.parse(readFileSync(file, "utf8")) as AutoProbeResult;
      return { engine: r.picked, why: probeWhy(r, true), result: r };
    } catch {
      return null;
    }
  };
  const hit = cached();
  if (hit) return hit;
  const lock = `${file}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      mkdirSync(dirname(file), { recursive: true });
      closeSync(openSync(lock, "wx"));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const other = cached();
      if (other) return other;
      // A lock older than the wait is a crashed prober's: take it over.
      if (Date.now() > deadline || (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > LOCK_WAIT_MS)) {
        rmSync(lock, { force: true });
        continue;
      }
      await Bun.sleep(500);
    }
  }
  try {
    // Another process may have measured while this one waited for the lock.
    const meanwhile = cached();
    if (meanwhile) return meanwhile;
    o.log?.(
      `notice: engine auto is measuring onnx and torch on this machine for ${o.spec.arch} (batch ${o.batchSize}, ${o.threads} thread(s)); cached for later runs`,
    );
    const state = freshState(o.spec, 0);
    const batch = checkBatch(o.spec, o.batchSize);
    // Each engine is timed before the other exists (or while it is idle): on a few cores,
    // one engine's threads spin-waiting after a run would slow the other's timing.
    const onnx = await o.make.onnx(cloneState(state));
    let torch: Trainer | null = null;
    try {
      const onnxSpeed = await speed(onnx, batch, o.settings.warmupSteps, o.settings.steps);
      torch = await o.make.torch(cloneState(state));
      const torchSpeed = await speed(torch, batch, o.settings.warmupSteps, o.settings.steps);
      const check = await checkProvider(torch, onnx, batch, o.settings.tolerance);
      const picked = check.passed && torchSpeed.imagesPerSecond >= o.settings.margin * onnxSpeed.imagesPerSecond ? "torch" : "onnx";
      const result: AutoProbeResult = {
        key,
        measuredAt: new Date().toISOString(),
        settings: o.settings,
        onnx: onnxSpeed,
        torch: torchSpeed,
        check: { passed: check.passed, worst: check.worst, tolerance: check.tolerance },
        picked,
      };
      writeFileAtomic(file, JSON.stringify(result, null, 2) + "\n");
      return { engine: picked, why: probeWhy(result, false), result };
    } finally {
      await torch?.dispose();
      await onnx.dispose();
    }
  } finally {
    rmSync(lock, { force: true });
  }
}

/** Every probe this machine has cached (for `bun run doctor`), newest first. */
export function cachedProbes(cacheDir = defaultCacheDir()): AutoProbeResult[] {
  const dir = join(cacheDir, "engine-probe");
  if (!existsSync(dir)) return [];
  const out: AutoProbeResult[] = [];
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".json"))) {
    try {
      out.push(JSON.parse(readFileSync(join(dir, f), "utf8")) as AutoProbeResult);
    } catch {
      // A damaged entry is measured again when a unit needs it.
    }
  }
  return out.filter((r) => r.key?.host === hostname()).sort((a, b) => b.measuredAt.localeCompare(a.measuredAt));
}

/** One cached probe in a line: the case and the pick. */
export function probeLine(r: AutoProbeResult): string {
  const m = r.key.model;
  return `${m.arch} ${m.inputShape.join("x")} (${m.numClasses} classes), batch ${r.key.batchSize}, ${r.key.threads} thread(s): ${r.picked} (torch ${r.torch.imagesPerSecond.toFixed(0)} vs onnx ${r.onnx.imagesPerSecond.toFixed(0)} img/s${r.check.passed ? "" : ", torch disagreed"}; ${r.measuredAt.slice(0, 10)})`;
}

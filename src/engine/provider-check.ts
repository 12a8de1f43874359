import type { EngineConfig } from "../config/generated/training.ts";
import type { ModelSpec } from "../models/spec.ts";
import { Rng } from "../util/rng.ts";
import { cachedCheck, saveCheck } from "./check-cache.ts";
import { DeviceError } from "./device-error.ts";
import { cloneState, type Batch, type ModelState, type Tensors, type Trainer } from "./types.ts";

/**
 * An execution provider proves itself before it trains: the same seeded batch goes
 * through one `gradients` call and one training step on the candidate and on the CPU
 * EP, and every tensor that comes out (loss, each parameter's gradient, updated
 * weights, momentum, BN statistics) is compared. A provider can load, agree on the
 * loss and logits, and still compute wrong gradients (the bundled WebGPU EP does, on
 * strided convs), so nothing less than the gradients is checked.
 */
export interface ProviderCheck {
  /** The provider under test and the one it was compared with. */
  provider: string;
  reference: string;
  passed: boolean;
  /** Largest relative error allowed: max |candidate - reference| / max |reference|. */
  tolerance: number;
  /** The tensor that differed most. */
  worst: { what: string; relError: number };
  tensorsCompared: number;
  /** The check ran in an earlier worker on the same device slot and was reused (check-cache.ts). */
  reused?: boolean;
}

/** Images and labels of the check: seeded, so every machine checks the same numbers. */
export function checkBatch(spec: ModelSpec, size: number, seed = 0): Batch {
  const [c, h, w] = spec.inputShape;
  const rng = new Rng(seed, "provider-check");
  const x = Float32Array.from({ length: size * c * h * w }, () => rng.normal());
  const y = Array.from({ length: size }, () => rng.int(spec.numClasses));
  return { x, y, size };
}

/** max |a - b| / max |b| (b: the reference), with a floor so an all-zero reference compares absolutely. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0,
    scale = 1e-6;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (Number.isNaN(d)) return NaN; // a NaN is never within any tolerance
    diff = Math.max(diff, d);
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / scale;
}

const LR = 0.1;

/**
 * Runs the check on two trainers that hold the same state and masks; both are left in
 * the state they started from.
 */
export async function checkProvider(candidate: Trainer, reference: Trainer, batch: Batch, tolerance: number): Promise<ProviderCheck> {
  const start = cloneState(reference.state);
  const errors: { what: string; relError: number }[] = [];
  const compare = (what: string, a: Tensors, b: Tensors) => {
    for (const [k, v] of Object.entries(b)) errors.push({ what: `${what} ${k}`, relError: relativeError(a[k] ?? new Float32Array(), v) });
  };
  const gc = await candidate.gradients(batch),
    gr = await reference.gradients(batch);
  errors.push({ what: "loss", relError: relativeError([gc.loss], [gr.loss]) });
  compare("gradient of", gc.grads, gr.grads);
  compare("BN statistic", gc.buffers, gr.buffers);
  await candidate.trainStep(batch, LR);
  await reference.trainStep(batch, LR);
  compare("updated", candidate.state.params, reference.state.params);
  compare("momentum of", candidate.state.momentum, reference.state.momentum);
  candidate.state = cloneState(start);
  reference.state = cloneState(start);
  const worst = errors.reduce((a, b) => (b.relError > a.relError || Number.isNaN(b.relError) ? b : a));
  return { provider: candidate.provider, reference: reference.provider, passed: worst.relError <= tolerance, tolerance, worst, tensorsCompared: errors.length };
}

const checks: ProviderCheck[] = [];

/** Every check this process ran, for the records of the units it trains. */
export function providerChecks(): ProviderCheck[] {
  return [...checks];
}

/** What a check's failure says: the tensor that was wrong and by how much. */
function worstText(c: ProviderCheck): string {
  return `${c.worst.what}, relative error ${c.worst.relError.toExponential(1)} > tolerance ${c.tolerance}, ${c.tensorsCompared} tensors compared`;
}

/** The arithmetic a trainer computes in (engine.precision): a trainer that does not say computes in fp32. */
export function trainerPrecision(t: Trainer): string {
  return t.precision ?? "fp32";
}

/**
 * The tolerance for a candidate: a reduced-precision device measured against the CPU's
 * fp32 differs by its rounding, so it is held to its own precision's tolerance (an
 * unknown precision to fp32's, the strictest).
 */
export function toleranceFor(candidate: Trainer, tolerance: number | EngineConfig["providerCheck"]["tolerance"]): number {
  if (typeof tolerance === "number") return tolerance;
  const p = trainerPrecision(candidate);
  return Object.hasOwn(tolerance, p) ? tolerance[p as keyof typeof tolerance] : tolerance.fp32;
}

/**
 * The trainer to train with: `candidate` when its provider is the CPU or passes the
 * check against a CPU trainer from `makeReference` (same state). On a failed check:
 * when a GPU was asked for explicitly (`required` names the setting or flag), a
 * DeviceError naming the check and its numbers; otherwise (auto) that CPU trainer, with
 * one line and a `fallback` saying which tensor was wrong and by how much. A check
 * already made on this device slot for the same model and precision is reused
 * (check-cache.ts). `tolerance`: one number, or one per precision (engine.providerCheck).
 */
export async function verifiedTrainer(
  candidate: Trainer,
  makeReference: (state: ModelState) => Promise<Trainer>,
  o: { tolerance: number | EngineConfig["providerCheck"]["tolerance"]; batchSize: number; log?: (line: string) => void; required?: string | null },
): Promise<{ trainer: Trainer; fallback?: string }> {
  if (candidate.provider === "cpu") return { trainer: candidate };
  const tolerance = toleranceFor(candidate, o.tolerance);
  const precision = trainerPrecision(candidate);
  const key = { engine: candidate.engine, provider: candidate.provider, precision, spec: candidate.spec, tolerance, batchSize: o.batchSize };
  const cached = cachedCheck<ProviderCheck>("provider-check", key);
  // A CPU trainer with the candidate's state and masks: the check's reference, and the fallback.
  const cpuTwin = async () => {
    const t = await makeReference(cloneState(candidate.state));
    for (const [k, m] of Object.entries(candidate.masks)) t.masks[k] = m.slice();
    return t;
  };
  let check: ProviderCheck;
  let reference: Trainer | null = null;
  if (cached) check = { ...cached, reused: true };
  else {
    reference = await cpuTwin();
    check = await checkProvider(candidate, reference, checkBatch(candidate.spec, o.batchSize), tolerance);
    saveCheck("provider-check", key, check);
  }
  checks.push(check);
  if (check.passed) {
    await reference?.dispose();
    o.log?.(
      `notice: execution provider ${check.provider} agrees with cpu on one training step (worst: ${check.worst.what}, relative error ${check.worst.relError.toExponential(1)}; tolerance ${check.tolerance})${check.reused ? "; checked earlier on this device" : ""}`,
    );
    return { trainer: candidate };
  }
  if (o.required) {
    await candidate.dispose();
    await reference?.dispose();
    throw new DeviceError(
      `${o.required}: ${check.provider} failed its check against the CPU (${worstText(check)}); it would train wrong numbers. Fix the device or its driver (\`bun run doctor\` checks it), or leave the GPU setting at auto to train on the CPU`,
    );
  }
  reference ??= await cpuTwin();
  await candidate.dispose();
  const fallback = `${check.provider} failed its check against cpu (${worstText(check)})`;
  o.log?.(`notice: execution provider ${fallback}; training on cpu`);
  return { trainer: reference, fallback };
}

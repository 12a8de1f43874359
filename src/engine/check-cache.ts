import { createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic-write.ts";

/**
 * Results of device probes and provider checks shared by the workers of one device slot
 * (the local pool sets PRUNING_HARNESS_CHECK_CACHE per run and GPU, a Slurm task per
 * task): a slot's device is probed and checked once, not once per unit, each of which
 * would otherwise start extra Python processes. Keys hold the host and the visible
 * devices, so a cache can never answer for another device. Without the variable
 * nothing is cached.
 */
function path(kind: string, key: unknown): string | null {
  const dir = process.env.PRUNING_HARNESS_CHECK_CACHE;
  if (!dir) return null;
  const full = { kind, key, host: hostname(), visible: process.env.CUDA_VISIBLE_DEVICES ?? null };
  return join(dir, `${kind}-${createHash("sha256").update(JSON.stringify(full)).digest("hex").slice(0, 16)}.json`);
}

export function cachedCheck<T>(kind: string, key: unknown): T | null {
  const p = path(kind, key);
  if (!p) return null;
  try {
    return JSON.parse(readFileSync(p, "utf8")) as T;
  } catch {
    return null;
  }
}

export function saveCheck(kind: string, key: unknown, value: unknown): void {
  const p = path(kind, key);
  if (!p) return;
  try {
    mkdirSync(join(p, ".."), { recursive: true });
    writeFileAtomic(p, JSON.stringify(value));
  } catch {
    // A cache that cannot be written only costs a repeated check.
  }
}

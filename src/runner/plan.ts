import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { getKind } from "./kinds/registry.ts";
import type { RunStore } from "./store.ts";
import type { Unit } from "./unit.ts";

export interface Plan {
  total: number;
  done: number;
  byKind: Record<string, { total: number; done: number }>;
  imagesToRun: number;
  estimate: { seconds: number; imagesPerSecond: number; source: string } | null;
}

/**
 * Throughput measured by bench:train on this machine, if its report is there: the case
 * with the same architecture and width as the plan's models, else the slowest case
 * measured (an estimate that errs long).
 */
export function measuredThroughput(reportDir: string, model?: { arch: string; width: number }): { imagesPerSecond: number; source: string } | null {
  const p = join(reportDir, "train-throughput.json");
  if (!existsSync(p)) return null;
  try {
    const r = JSON.parse(readFileSync(p, "utf8")) as {
      throughput: { case: string; engine: string; status: string; imagesPerSecond?: number }[];
      config: { throughput: { cases: { name: string; arch: string; width: number }[] } };
      context: { date: string };
    };
    const m = r.throughput.filter((t) => t.status === "measured" && t.engine.startsWith("onnx") && t.imagesPerSecond);
    if (!m.length) return null;
    const caseOf = (name: string) => r.config.throughput.cases.find((c) => c.name === name);
    const same = m.filter((t) => model && caseOf(t.case)?.arch === model.arch && caseOf(t.case)?.width === model.width);
    const pick = (same.length ? same : m).reduce((a, b) => (a.imagesPerSecond! < b.imagesPerSecond! ? a : b));
    return { imagesPerSecond: pick.imagesPerSecond!, source: `${p}: ${pick.case}, ${pick.engine}, ${r.context.date.slice(0, 10)}${same.length ? "" : "; no measurement of this model, so the slowest case"}` };
  } catch {
    return null;
  }
}

export async function makePlan(units: Unit<unknown>[], store: RunStore, o: { jobs: number; reportDir: string }): Promise<Plan> {
  const byKind: Plan["byKind"] = {};
  let done = 0, images = 0;
  for (const u of units) {
    const k = (byKind[u.kind] ??= { total: 0, done: 0 });
    k.total++;
    if (store.isDone(u.id)) {
      k.done++;
      done++;
    } else {
      images += (await getKind(u.kind)).estimateImages(u.config as never);
    }
  }
  let model: { arch: string; width: number } | undefined;
  for (const u of units) model ??= (await getKind(u.kind)).model?.(u.config as never);
  const t = measuredThroughput(o.reportDir, model);
  // Parallel jobs share the cores, so the pool's throughput is about one full-machine job's.
  return { total: units.length, done, byKind, imagesToRun: images, estimate: t ? { seconds: images / t.imagesPerSecond, imagesPerSecond: t.imagesPerSecond, source: t.source } : null };
}

export function formatDuration(s: number): string {
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} days`;
}

export function formatPlan(p: Plan, o: { executor: string; jobs: number; runsDir: string }): string {
  const kinds = Object.entries(p.byKind).map(([k, v]) => `${k}: ${v.total} (${v.done} complete)`).join(", ");
  const lines = [
    `plan: ${p.total} units (${kinds}); ${p.done} already complete in ${o.runsDir}, ${p.total - p.done} to run on the ${o.executor} executor${o.executor === "local" ? ` with ${o.jobs} job(s)` : ""}`,
    p.estimate
      ? `estimated compute: ${p.imagesToRun.toLocaleString("en-US")} training images, about ${formatDuration(p.estimate.seconds)} of this machine at ${p.estimate.imagesPerSecond.toFixed(0)} img/s (${p.estimate.source})`
      : `estimated compute: ${p.imagesToRun.toLocaleString("en-US")} training images; no throughput measurement found (run \`bun run bench:train\` to get one)`,
  ];
  return lines.join("\n");
}

import type { UnitRecord } from "../config/generated/record.ts";
import type { RunContext } from "../util/provenance.ts";
import { archName } from "../models/registry.ts";

export function contextMarkdown(c: RunContext, extra: Record<string, string | number> = {}): string {
  const rows: [string, string][] = [
    ["date", c.date],
    ["commit", c.commit],
    ["machine", `${c.machine.cpu}, ${c.machine.cores} cores, ${c.machine.memoryGiB} GiB (${c.machine.os})`],
    [
      "runtime",
      Object.entries(c.runtime)
        .map(([k, v]) => `${k} ${v}`)
        .join(", "),
    ],
    ...Object.entries(extra).map(([k, v]) => [k, String(v)] as [string, string]),
  ];
  return ["| context | |", "|---|---|", ...rows.map(([k, v]) => `| ${k} | ${v.replace(/\|/g, "\\|")} |`)].join("\n");
}

/** A markdown table from a header and rows. */
export function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.map((c) => String(c).replace(/\|/g, "\\|")).join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/**
 * One line on the data a report's units trained on: which subsets (by data seed) and
 * whether the units' recorded training-set fingerprints agree, loudly when they do not.
 */
export function sharedDataLine(data: { subsetSeed: number; trainLimit?: number; testLimit?: number }, fingerprints: string[], who: string): string {
  const subset =
    data.trainLimit !== undefined || data.testLimit !== undefined
      ? `subsets drawn with data seed ${data.subsetSeed}, the same for every training seed`
      : "the full splits";
  if (fingerprints.length === 1) return `${subset}; ${who} recorded one training-set fingerprint (${fingerprints[0]!.slice(0, 12)}).`;
  if (fingerprints.length === 0) return `${subset}; no unit recorded a training-set fingerprint (units computed before fingerprints were recorded).`;
  return `${subset}; **WARNING: the units recorded ${fingerprints.length} different training-set fingerprints** (${fingerprints.map((x) => x.slice(0, 12)).join(", ")}): they did not all train on the same images.`;
}

/** The distinct training-set fingerprints a report's unit records hold (one when all shared their data). */
export function trainFingerprintsOf(records: Iterable<{ metrics: Record<string, unknown> }>): string[] {
  return [...new Set([...records].map((r) => r.metrics.trainFingerprint).filter((f): f is string => typeof f === "string"))];
}

/**
 * The precision the units' trainers computed in (engine.precision), for the header beside
 * the engine: "precision fp32", or every value seen when the units differ (a GPU that fell
 * back to the CPU). Records that name no trainer predate trainer facts.
 */
export function precisionNote(records: Iterable<{ env: { trainers?: { precision?: string }[] } }>): string {
  const seen = precisionsOf(records);
  return seen.length ? `precision ${seen.join(" or ")}` : "precision not recorded";
}

type TrainerFacts = {
  engine: string;
  provider: string;
  precision?: string;
  deterministic?: boolean;
  cudaGraphs?: boolean;
  channelsLast?: boolean;
  cudnnDeterministic?: boolean;
};

/**
 * The distinct trainer settings of some records, each as one phrase ("torch/cuda, tf32,
 * cuDNN not deterministic, CUDA graphs"), so a report can show two methods ran like for like.
 */
export function trainerSettings(records: Iterable<{ env: { trainers?: TrainerFacts[] } }>): string[] {
  const seen = new Set<string>();
  for (const r of records)
    for (const t of r.env.trainers ?? []) {
      const parts = [`${t.engine}/${t.provider}`, t.precision ?? "fp32"];
      if (t.cudnnDeterministic !== undefined) parts.push(t.cudnnDeterministic ? "cuDNN deterministic" : "cuDNN not deterministic");
      if (t.cudaGraphs) parts.push("CUDA graphs");
      if (t.channelsLast) parts.push("channels-last");
      parts.push(t.deterministic === false ? "not bit-reproducible" : "deterministic");
      seen.add(parts.join(", "));
    }
  return [...seen];
}

/** The distinct precisions the records' trainers computed in, in order of first appearance. */
export function precisionsOf(records: Iterable<{ env: { trainers?: { precision?: string }[] } }>): string[] {
  const seen = new Set<string>();
  for (const r of records) for (const t of r.env.trainers ?? []) seen.add(t.precision ?? "fp32");
  return [...seen];
}

/**
 * The header's word on units that engine (or provider/device) auto left on the CPU after
 * a GPU was tried: how many and why; "" when none did. A GPU asked for explicitly never
 * falls back (it is an error), so this is the one place such a run says so.
 */
export function fallbackNote(records: Iterable<{ env: { trainers?: { engine: string; fallback?: string }[] } }>): string {
  const why = new Map<string, number>();
  for (const r of records) for (const t of r.env.trainers ?? []) if (t.fallback) why.set(t.fallback, (why.get(t.fallback) ?? 0) + 1);
  if (!why.size) return "";
  const n = [...why.values()].reduce((a, b) => a + b, 0);
  return `; **auto fell back to the CPU in ${n} unit(s)**: ${[...why.keys()].join("; ")}`;
}

/**
 * The header's word on why engine auto chose the engine that ran: per engine picked, how
 * many units and one unit's reason (a cached probe's date left out), and how many
 * different reasons the records hold; "" when no unit's engine was chosen by auto.
 */
export function autoPickNote(records: Iterable<{ env: { trainers?: { autoPick?: string }[] } }>): string {
  const byEngine = new Map<string, { units: number; reasons: Set<string> }>();
  for (const r of records) {
    const counted = new Set<string>();
    for (const p of (r.env.trainers ?? []).map((t) => t.autoPick).filter((p): p is string => !!p)) {
      const colon = p.indexOf(": ");
      const engine = colon < 0 ? p : p.slice(0, colon);
      const reason = colon < 0 ? "" : p.slice(colon + 2).replace(/ \(\d{4}-\d{2}-\d{2}, cached\)/, "");
      const e = byEngine.get(engine) ?? { units: 0, reasons: new Set<string>() };
      // A unit counts once per engine, however many trainers it made.
      if (!counted.has(engine)) e.units++;
      counted.add(engine);
      e.reasons.add(reason);
      byEngine.set(engine, e);
    }
  }
  if (!byEngine.size) return "";
  const parts = [...byEngine].map(([engine, e]) => {
    const [first] = e.reasons;
    const more = e.reasons.size > 1 ? `; ${e.reasons.size} different reasons (models, batch sizes or thread counts), each in its unit's record` : "";
    return `${engine} for ${e.units} unit${e.units === 1 ? "" : "s"} (${first}${more})`;
  });
  return `; engine auto picked ${parts.join(" and ")}`;
}

/**
 * The machine time a run's records cost: each unit's wall time, a pack's time counted
 * once (every member's record holds the whole pack's wall time, env.pack).
 */
export function computeSeconds(records: Pick<UnitRecord, "wallSeconds" | "env">[]): number {
  return records.reduce((s, r) => s + r.wallSeconds / (r.env.pack?.size ?? 1), 0);
}

/** The header rows every experiment report starts with: preset, dataset, engine, the commits its units were computed at, the model. */
export function experimentRows(d: {
  preset: string;
  dataset: { name: string; source: string; train: number; test: number };
  engine: string;
  unitCommits: string[];
  model: { arch: string; width: number; depth?: number };
}): Record<string, string> {
  return {
    preset: d.preset,
    dataset: `${d.dataset.name}: ${d.dataset.source} (${d.dataset.train} train / ${d.dataset.test} test images)`,
    "engine / EP": d.engine,
    "units computed at": d.unitCommits.join("; ") || "n/a",
    model: `${archName(d.model)}, width ${d.model.width}`,
  };
}

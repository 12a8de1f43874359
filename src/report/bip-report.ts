import type { BipBenchConfig } from "../config/generated/bip-bench.ts";
import { contextMarkdown, table, type RunContext } from "./context.ts";
import type { Claim, Verdict } from "./fig2-claims.ts";
import { lineChartSvg } from "./plots.ts";

export type Method = "IMP" | "OMP" | "BiP" | "BiP-filter";

/** One method at one target sparsity, over seeds. */
export interface MethodPoint {
  method: Method;
  target: number;
  /** Sparsity actually reached (mean over seeds). */
  sparsity: number;
  accuracies: number[];
  /** Wall seconds to produce the subnetwork, per seed, without the shared dense pretraining. */
  seconds: number[];
}

export interface BipData {
  context: RunContext;
  preset: string;
  config: BipBenchConfig;
  dataset: { name: string; source: string; train: number; test: number };
  engine: string;
  /** Commits recorded by the units (a bench resumed across commits lists several). */
  unitCommits: string[];
  dense: { accuracy: number; seconds: number };
  points: MethodPoint[];
  timing: string;
  scaledDown: string[];
  failed: string[];
}

const PAPER_SPEEDUP: Record<string, number> = { "0.59": 3.2, "0.74": 4.8, "0.87": 7.2 };
const PAPER_ACC: Record<string, [number, number]> = { "0.2": [92.35, 91.88], "0.59": [92.08, 92.27], "0.74": [92.0, 92.15], "0.89": [90.95, 90.85], "0.945": [91.0, 89.05] };

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => (xs.length < 2 ? NaN : Math.sqrt(xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));
const pct = (x: number, d = 1) => `${(100 * x).toFixed(d)}%`;

/** The sparsest target whose mean accuracy is not below the dense model's by more than the seed spread. */
function sparsestTicket(points: MethodPoint[], dense: number): { target: number; accuracy: number } | null {
  const ok = points.filter((p) => mean(p.accuracies) >= dense - (Number.isFinite(sd(p.accuracies)) ? sd(p.accuracies) : 0));
  if (!ok.length) return null;
  const best = ok.reduce((a, b) => (a.target > b.target ? a : b));
  return { target: best.target, accuracy: mean(best.accuracies) };
}

export function bipClaims(d: BipData): Claim[] {
  const at = (m: Method, t: number) => d.points.find((p) => p.method === m && p.target === t);
  const claims: Claim[] = [];
  // 1. Speedup.
  {
    const rows = d.config.sparsities.filter((t) => t >= 0.5).map((t) => ({ t, imp: at("IMP", t), bip: at("BiP", t) })).filter((r) => r.imp && r.bip);
    const speedups = rows.map((r) => ({ t: r.t, s: mean(r.imp!.seconds) / mean(r.bip!.seconds) }));
    const measured = speedups.map((s) => `${s.s.toFixed(1)}x at ${pct(s.t)}`).join(", ") || "none";
    let verdict: Verdict = "INCONCLUSIVE", reason = "no sparsity >= 50% measured for both methods";
    if (speedups.length) {
      const inside = speedups.every((s) => s.s >= 2 && s.s <= 7);
      verdict = inside ? "REPRODUCED" : "NOT REPRODUCED";
      reason = inside ? "every speedup at >= 50% sparsity lies within 2-7x" : `speedups outside 2-7x: ${speedups.filter((s) => s.s < 2 || s.s > 7).map((s) => `${s.s.toFixed(1)}x at ${pct(s.t)}`).join(", ")}`;
    }
    claims.push({ claim: "BiP is 2-7x faster than IMP (wall clock, same sparsity)", paper: "3.2x at 59%, 4.8x at 74%, 7.2x at 87% (ResNet-18, CIFAR-10)", measured, verdict, reason: `${reason}; times exclude the shared dense pretraining (the table below also gives them with it)` });
  }
  // 2. Accuracy.
  {
    const rows = d.config.sparsities.map((t) => ({ t, imp: at("IMP", t), bip: at("BiP", t) })).filter((r) => r.imp && r.bip);
    const judged = rows.map((r) => {
      const diff = mean(r.bip!.accuracies) - mean(r.imp!.accuracies);
      const noise = Math.sqrt(sd(r.bip!.accuracies) ** 2 / r.bip!.accuracies.length + sd(r.imp!.accuracies) ** 2 / r.imp!.accuracies.length);
      return { t: r.t, diff, noise };
    });
    const measured = judged.map((j) => `${j.diff >= 0 ? "+" : ""}${(100 * j.diff).toFixed(2)} pts at ${pct(j.t)}`).join(", ");
    let verdict: Verdict, reason: string;
    if (!judged.length || judged.some((j) => !Number.isFinite(j.noise))) {
      verdict = "INCONCLUSIVE";
      reason = "needs at least 2 seeds per method to judge noise";
    } else {
      const worse = judged.filter((j) => j.diff < -2 * j.noise);
      verdict = worse.length ? "NOT REPRODUCED" : "REPRODUCED";
      reason = worse.length ? `BiP is below IMP by more than twice the seed noise at ${worse.map((j) => pct(j.t)).join(", ")}` : "BiP is never below IMP by more than twice the standard error of the difference";
    }
    claims.push({ claim: "BiP's accuracy matches or beats IMP's at every sparsity", paper: Object.entries(PAPER_ACC).map(([t, [b, i]]) => `${pct(+t)}: ${b} / ${i}`).join("; ") + " (BiP / IMP, %)", measured: measured || "none", verdict, reason });
  }
  // 3. Winning tickets.
  {
    const imp = sparsestTicket(d.points.filter((p) => p.method === "IMP"), d.dense.accuracy);
    const bip = sparsestTicket(d.points.filter((p) => p.method === "BiP"), d.dense.accuracy);
    const f = (w: typeof imp) => (w ? `${pct(w.target)} (${pct(w.accuracy, 2)})` : "none");
    const measured = `dense ${pct(d.dense.accuracy, 2)}; IMP ${f(imp)}, BiP ${f(bip)}`;
    let verdict: Verdict, reason: string;
    if (!imp && !bip) (verdict = "INCONCLUSIVE"), (reason = "neither method kept the dense accuracy at any target");
    else if ((bip?.target ?? -1) >= (imp?.target ?? -1)) (verdict = "REPRODUCED"), (reason = "BiP's sparsest winning ticket is at least as sparse as IMP's");
    else (verdict = "NOT REPRODUCED"), (reason = "IMP finds a sparser winning ticket");
    claims.push({ claim: "BiP finds winning tickets at least as sparse as IMP's (rule: mean accuracy not below the dense model's by more than the seed spread)", paper: "ResNet-20: IMP 74% (92.15), BiP 67% (92.14): in this case IMP's is sparser", measured, verdict, reason });
  }
  return claims;
}

export async function renderBip(d: BipData): Promise<{ markdown: string; svgs: Record<string, string>; claims: Claim[] }> {
  const claims = bipClaims(d);
  const svgs = {
    "bip-vs-imp-accuracy.svg": await lineChartSvg({ title: "Test accuracy vs sparsity", xTitle: "sparsity", yTitle: "test accuracy", points: d.points.map((p) => ({ x: p.target, y: mean(p.accuracies), spread: Number.isFinite(sd(p.accuracies)) ? sd(p.accuracies) : 0, series: p.method })) }),
    "bip-vs-imp-time.svg": await lineChartSvg({ title: "Wall-clock time to the subnetwork (no pretraining)", xTitle: "sparsity", yTitle: "seconds", points: d.points.map((p) => ({ x: p.target, y: mean(p.seconds), series: p.method })) }),
  };
  const rows = d.points.map((p) => [pct(p.target), p.method, pct(p.sparsity, 2), `${pct(mean(p.accuracies), 2)}${Number.isFinite(sd(p.accuracies)) ? ` ± ${(100 * sd(p.accuracies)).toFixed(2)}` : ""}`, p.accuracies.map((a) => (100 * a).toFixed(2)).join(" / "), `${mean(p.seconds).toFixed(1)} s`, `${(mean(p.seconds) + d.dense.seconds).toFixed(1)} s`]);
  const speed = d.config.sparsities.map((t) => {
    const imp = d.points.find((p) => p.method === "IMP" && p.target === t), bip = d.points.find((p) => p.method === "BiP" && p.target === t);
    if (!imp || !bip) return [pct(t), "-", "-", PAPER_SPEEDUP[String(t)] ? `${PAPER_SPEEDUP[String(t)]}x` : "-"];
    return [pct(t), `${(mean(imp.seconds) / mean(bip.seconds)).toFixed(2)}x`, `${((mean(imp.seconds) + d.dense.seconds) / (mean(bip.seconds) + d.dense.seconds)).toFixed(2)}x`, PAPER_SPEEDUP[String(t)] ? `${PAPER_SPEEDUP[String(t)]}x` : "-"];
  });
  const c = d.config;
  const md = [
    "# BiP vs IMP: accuracy and wall-clock time",
    "",
    `Generated by \`bun run bench:bip-vs-imp --preset ${d.preset}\`. Paper: Zhang et al., *Advancing Model Pruning via Bi-level Optimization*, NeurIPS 2022.`,
    "",
    contextMarkdown(d.context, { preset: d.preset, dataset: `${d.dataset.name}: ${d.dataset.source} (${d.dataset.train} train / ${d.dataset.test} test images)`, "engine / EP": d.engine, "units computed at": d.unitCommits.join("; ") || "n/a", model: `${c.dense.model.arch}, width ${c.dense.model.width}`, seeds: c.seeds.join(", "), timing: d.timing }),
    "",
    "## Protocol as run",
    "",
    `- Dense pretraining (shared): ${c.dense.optim.epochs} epochs, test accuracy ${pct(d.dense.accuracy, 2)}, ${d.dense.seconds.toFixed(0)} s.`,
    `- IMP: global magnitude pruning of ${pct(c.impRate, 0)} of the remaining conv weights per round, rewind to epoch ${c.rewindEpoch}, ${c.imp.epochs} retraining epochs per round; time to a sparsity = sum of its rounds.`,
    `- OMP: one-shot global magnitude pruning of the pretrained model, ${c.omp.epochs} fine-tuning epochs.`,
    `- BiP: scores from the pretrained magnitudes, global top-k of |scores| with straight-through (d|s|/ds = sign(s)), ${c.bip.epochs} epochs of alternating theta-step (alpha ${c.bip.thetaLr}, cosine) and mask-step (beta ${c.bip.maskLr}, score momentum ${c.bip.maskMomentum}, x0.1 at 75%, x0.01 at 90%) on different mini-batches, theta regularised by ${c.bip.thetaL2 === "gamma" ? `gamma/2 ||theta||^2 (gamma ${c.bip.gamma})` : `weight decay ${c.bip.weightDecay} (gamma ${c.bip.gamma} only in the implicit gradient)`}, theta momentum ${c.bip.momentum}; implicit-gradient variant: **${c.bip.variant}**${c.bip.variant === "code" ? ` (lr2 ${c.bip.codeLr2})` : " (Algorithm A1: -(1/gamma) g_z * g_theta)"}. No fine-tuning afterwards.`,
    "- BiP-filter: the same with one score per output filter and a per-layer top-k of filters (structured); its sparsity counts weights in removed filters. Shown for reference: the claims concern unstructured BiP.",
    c.bip.iterations === "two-passes"
      ? `- Ratio of IMP epochs per round to BiP epochs: ${(c.imp.epochs / c.bip.epochs).toFixed(2)} (the paper: 160 / 100 = 1.6). One BiP epoch takes floor(N/B) iterations, theta-steps on one shuffle of the training data and mask-steps on an independent one (as the public code's two loaders), so it costs about two training epochs, as the paper's reported times imply.`
      : `- Ratio of IMP epochs per round to BiP epochs: ${(c.imp.epochs / c.bip.epochs).toFixed(2)} (the paper: 160 / 100 = 1.6). One BiP epoch here is one pass over the training data, its mini-batches alternating between theta-steps and mask-steps, so it costs about one training epoch; the public code takes both steps on a full pass each (two loaders), twice the work per epoch, which would halve the speedups below.`,
    ...(d.scaledDown.length ? ["", "**Scaled down from the paper's protocol:** " + d.scaledDown.join("; ") + "."] : []),
    ...(d.failed.length ? ["", `**Units that did not complete:** ${d.failed.join("; ")}`] : []),
    "",
    "## Accuracy and time",
    "",
    "![accuracy](bip-vs-imp-accuracy.svg) ![time](bip-vs-imp-time.svg)",
    "",
    table(["target", "method", "sparsity reached", "test accuracy (mean ± sd)", "per seed", "time", "time incl. pretraining"], rows),
    "",
    "## Speedup of BiP over IMP",
    "",
    table(["sparsity", "measured", "measured incl. pretraining", "paper (ResNet-18, CIFAR-10)"], speed),
    "",
    "## Claims",
    "",
    table(["claim", "paper", "measured", "verdict", "reason"], claims.map((x) => [x.claim, x.paper, x.measured, `**${x.verdict}**`, x.reason])),
    "",
  ].join("\n");
  return { markdown: md, svgs, claims };
}

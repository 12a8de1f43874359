import type { Fig2Config } from "../config/generated/fig2.ts";
import { oneShotMethod } from "../prune/one-shot.ts";
import { contextMarkdown, experimentRows, sharedDataLine, table } from "./markdown.ts";
import { type RunContext } from "../util/provenance.ts";
import { clearRegime, fig2Claims, pairNoiseText, type Fig2Cell } from "./fig2-claims.ts";
import type { Claim } from "./verdict.ts";
import { claimsTable } from "./claims.ts";
import { heatmapGridSvg, heatmapSvg, type HeatmapAxes, type HeatmapPanel } from "./plots.ts";

export interface Fig2Data {
  /** The command that made it: script, preset, --config files, --set overrides. */
  command: string;
  context: RunContext;
  preset: string;
  config: Fig2Config;
  axis: Fig2Config["temperature"]["axis"];
  /** Temperatures hottest first, with their axis values. */
  temperatures: number[];
  densities: number[];
  cells: Fig2Cell[];
  dataset: { name: string; source: string; train: number; test: number };
  engine: string;
  /** Commits recorded by the units (a grid resumed across commits lists several). */
  unitCommits: string[];
  /** Wall time of this invocation, and total compute recorded by the units. */
  wallSeconds: number;
  computeSeconds: number;
  unitsRun: number;
  unitsReused: number;
  failed: { unit: string; error: string }[];
  /** What this preset shrinks relative to the paper's protocol. */
  scaledDown: string[];
  /** Retrain epochs (1-based) whose test error is averaged. */
  errorWindow: { first: number; last: number; count: number; finalPhaseFirst: number };
  /** The data streams of the dense runs and of the retraining under dense seed d (with "d" for the seed), as the report names them. */
  streams: { dense: string; retrain: string };
  /** Distinct training-data fingerprints recorded by the units (one when all shared their data). */
  trainFingerprints: string[];
}

const AXIS_TITLE = {
  epochs: "dense training epochs (fewer = hotter)",
  "batch-size": "dense batch size (smaller = hotter)",
  sam: "SAM rho (larger = hotter)",
} as const;
/** Short y-axis titles for the figures (a long one would squeeze the plot); the detail goes in the subtitle. */
const AXIS_SHORT = { epochs: "dense epochs", "batch-size": "batch size", sam: "SAM rho" } as const;
const REGIME_COLORS = { domain: ["I", "II-A", "II-B"], range: ["#d95f02", "#7570b3", "#1b9e77"] };

const epochRange = (a: number, b: number) => (a === b ? `epoch ${a}` : `epochs ${a}-${b}`);

function windowLine(d: Fig2Data): string {
  const w = d.errorWindow,
    e = d.config.retrain.epochs;
  return `mean over retrain ${epochRange(w.first, w.last)} (the last ${w.count} of ${e}: ceil(${d.config.metrics.errorWindow} x ${e}), inside the final learning-rate phase, ${epochRange(w.finalPhaseFirst, e)}; the paper: the last 5 of 160, inside epochs 121-160)`;
}

/** Where this harness departs from the authors' code (read at commit b38c972), each named. */
/** Whether the grid pruned as the paper does (prune.method absent or the paper's layer-wise magnitude). */
const paperPruning = (cfg: Fig2Config) => (cfg.prune?.method ?? "layerwise-magnitude") === "layerwise-magnitude";

/** The pruning method in words: its label, its registry name and the settings it ran with. */
function pruneLine(cfg: Fig2Config): string {
  if (paperPruning(cfg)) return "layer-wise L1 magnitude";
  const name = cfg.prune!.method!;
  const settings = cfg.prune?.settings ?? {};
  const s = Object.keys(settings).length
    ? `, ${Object.entries(settings)
        .map(([k, v]) => `${k} ${JSON.stringify(v)}`)
        .join(", ")}`
    : "";
  return `${oneShotMethod(name, "prune.method").label} (\`${name}\`${s})`;
}

function deviations(d: Fig2Data): string[] {
  const { dense, retrain } = d.config.seeds,
    pairs = (retrain.length * (retrain.length - 1)) / 2;
  const norm = d.config.dense.data.normalization;
  return [
    ...(retrain.length < 3 || dense.length < 3
      ? [
          `LMC and CKA: the mean over ${pairs} pair(s) of ${retrain.length} retrain seeds under each of ${dense.length} dense seed(s), ${pairs * dense.length} value(s) per cell; the authors' figure averages every pair of 3 retrain seeds over 3 dense seeds (9 values per cell).`,
        ]
      : []),
    ...(dense.length < 3
      ? [`${dense.length} dense seed(s) (${dense.join(", ")}); the authors' figure averages 3 dense seeds (their generator script itself lists one).`]
      : []),
    norm === "authors"
      ? "Normalisation: the authors' constants (data.normalization=authors): CIFAR-10 mean 0.4914, 0.4822, 0.4465 and std 0.2023, 0.1994, 0.2010; on other data the dataset's std scaled by the same ratio (about 0.8)."
      : "Normalisation: the dataset's true per-channel std (CIFAR-10: 0.247, 0.243, 0.262); the authors' code uses 0.2023, 0.1994, 0.2010 (the means agree), so its inputs are about 1.2x larger (`--set dense.data.normalization=authors` uses theirs; the README's fidelity section gives the measured difference).",
    `CKA images: a class-balanced random subset of the training set (data seed ${d.config.dense.data.subsetSeed}); the authors take the first 6,464 in file order.`,
    `BN re-estimation on the LMC path in batches of ${d.config.metrics.batchSize}; the authors use batches of 64 (the pooled statistics differ only slightly).`,
    ...(d.axis === "batch-size"
      ? [
          "Batch-size axis: dense epochs = round(iterations x batch / images) with a per-epoch schedule, and retraining with the epochs-axis retrain settings; the authors train exactly 62,400 iterations with a per-iteration schedule and retrain at batch 128.",
        ]
      : []),
  ];
}

/** Report = a pure function of the measured cells and the run's context. */
export async function renderFig2(data: Fig2Data): Promise<{ markdown: string; svgs: Record<string, string>; claims: Claim[] }> {
  // Hottest first, then by density: the report is the same whatever order the cells come in.
  const d = { ...data, cells: [...data.cells].sort((a, b) => a.hotRank - b.hotRank || a.density - b.density) };
  const dLabel = (x: number) => `${+(100 * x).toFixed(1)}%`;
  const xOrder = [...d.densities].sort((a, b) => a - b).map(dLabel);
  const yOrder = d.temperatures.map(String);
  const cell = (c: Fig2Cell, v: number | null, digits: number) => ({
    x: dLabel(c.density),
    y: String(c.temperature),
    value: v,
    label: v === null ? "" : v.toFixed(digits),
  });
  const axes: HeatmapAxes = { xTitle: "density (load)", yTitle: AXIS_SHORT[d.axis], xOrder, yOrder };
  const rows = `rows: ${AXIS_TITLE[d.axis]}, hottest at the top`;
  const { regimes: thresholds, verdicts } = d.config;
  const panels: Record<"test-error" | "lmc" | "cka" | "regimes", HeatmapPanel & { subtitle: string }> = {
    "test-error": {
      title: "Test error",
      subtitle: "mean over retrain seeds",
      legendTitle: "test error",
      cells: d.cells.map((c) => cell(c, c.testError, 3)),
      scheme: "viridis",
      reverse: true,
    },
    lmc: {
      title: "LMC barrier",
      subtitle: `white: threshold ${thresholds.lmcBarrier}`,
      legendTitle: "LMC barrier",
      cells: d.cells.map((c) => cell(c, c.lmcBarrier, 3)),
      scheme: "redblue",
      divergingAt: thresholds.lmcBarrier,
    },
    cka: {
      title: "CKA",
      subtitle: `white: threshold ${thresholds.cka}`,
      legendTitle: "CKA",
      cells: d.cells.map((c) => cell(c, c.cka, 3)),
      scheme: "purplegreen",
      divergingAt: thresholds.cka,
    },
    regimes: {
      title: "Regimes",
      subtitle: "from LMC barrier and CKA",
      legendTitle: "regime",
      cells: d.cells.map((c) => ({
        x: dLabel(c.density),
        y: String(c.temperature),
        value: null,
        label: c.regime ?? "n/a",
        faded: c.regime !== null && clearRegime(c, thresholds, verdicts.noiseMultiple) === null,
      })),
      nominal: REGIME_COLORS,
      fade: { title: "vs the thresholds", solid: `beyond ${verdicts.noiseMultiple} s.e.`, faded: `within ${verdicts.noiseMultiple} s.e. (uncertain)` },
    },
  };
  const svgs: Record<string, string> = {
    "fig2.svg": await heatmapGridSvg({
      title: `Figure 2: ${d.dataset.name}, preset ${d.preset} (${d.config.dense.model.arch}, width ${d.config.dense.model.width})`,
      subtitle: `columns: density after one-shot pruning (load); ${rows}`,
      axes,
      panels: Object.values(panels),
    }),
  };
  for (const [name, p] of Object.entries(panels)) svgs[`fig2-${name}.svg`] = await heatmapSvg({ ...axes, ...p, subtitle: [p.subtitle, rows] });
  const comparableScale = d.preset === "paper" && d.dataset.name === "cifar10";
  const pairNoise = pairNoiseText(d.cells);
  const claims = fig2Claims(d.cells, {
    densities: d.densities,
    temperatures: d.temperatures.length,
    regimes: d.config.regimes,
    verdicts: d.config.verdicts,
    dataset: d.dataset.name,
    comparableScale,
    pairNoise,
  });
  const fmt = (v: number | null, digits = 3) => (v === null ? "-" : v.toFixed(digits));
  const min = (s: number) => (s / 60).toFixed(1);
  const withSe = (v: number | null, se: number | null) => (v === null ? "-" : se === null ? v.toFixed(3) : `${v.toFixed(3)} ± ${se.toFixed(3)}`);
  const md = [
    "# Three-regime model of network pruning: Figure 2",
    "",
    `Generated by \`${d.command}\` (temperature axis: ${d.axis}). Paper: Zhou, Yang, Chang, Mahoney, *A Three-regime Model of Network Pruning*, ICML 2023, Figure 2 (PreResNet-20, CIFAR-10).`,
    "",
    contextMarkdown(d.context, {
      ...experimentRows({ ...d, model: d.config.dense.model }),
      seeds: `dense ${d.config.seeds.dense.join(", ")}; retrain ${d.config.seeds.retrain.join(", ")} (every pair: ${d.config.seeds.dense.length * ((d.config.seeds.retrain.length * (d.config.seeds.retrain.length - 1)) / 2)} LMC/CKA values per cell)`,
      "wall time": `${min(d.wallSeconds)} min this invocation (${d.unitsRun} units run, ${d.unitsReused} reused from the run store); ${min(d.computeSeconds)} min of unit compute in total (a pack of units counted once)`,
    }),
    "",
    "## Protocol as run",
    "",
    `- Dense training: ${d.config.dense.optim.epochs} epochs${d.axis === "epochs" ? "" : " (varied by the axis)"}, batch ${d.config.dense.optim.batchSize}, SGD lr ${d.config.dense.optim.lr}, momentum ${d.config.dense.optim.momentum}, weight decay ${d.config.dense.optim.weightDecay}, ${d.config.dense.optim.schedule.kind} schedule${d.config.dense.optim.schedule.kind === "step" ? ` (x${d.config.dense.optim.schedule.gamma} at ${d.config.dense.optim.schedule.milestones.join(", ")} of training)` : ""}; augmentation crop ${d.config.dense.data.cropPadding}px + flip ${d.config.dense.data.flip}.`,
    `- Temperatures (hottest first): ${d.temperatures.join(", ")} (${AXIS_TITLE[d.axis]}).`,
    `- Load: one-shot ${pruneLine(d.config)} pruning of every conv layer (not fc, not BN) to densities ${xOrder.join(", ")}.`,
    `- Retraining: mask fixed, ${d.config.retrain.epochs} epochs, learning rate rewound to ${d.config.retrain.lr} (${d.config.retrain.schedule.kind} schedule), seeds ${d.config.seeds.retrain.join(", ")} under each dense seed.`,
    `- Data streams: each run's data order and augmentation come from its seed and its role's stream: the dense runs draw stream "${d.streams.dense}", the retraining under dense seed d draws "${d.streams.retrain}", so no retrained model replays its dense run's order and dense seeds share no retraining stream (each unit's record names its stream).`,
    `- Data: ${sharedDataLine(d.config.dense.data, d.trainFingerprints, "the dense models, every retrained model and every LMC/CKA cell")}`,
    `- Test error: ${windowLine(d)}, then over every retrained model. LMC: ${d.config.metrics.lmcPoints}-point linear path between two retrained models, BN re-estimated on ${d.config.metrics.bnImages} training images at every point, error on ${d.config.metrics.lmcImages} training images; barrier = mean(err(0), err(1)) - err(t*). CKA: linear CKA of the two models' softmax outputs on ${d.config.metrics.ckaImages} training images. Both for every pair of retrain seeds under every dense seed, then averaged (each dense seed weighted equally), as the authors' figure does.`,
    `- Regimes: I if LMC barrier < ${d.config.regimes.lmcBarrier}; otherwise II-A if CKA < ${d.config.regimes.cka}, else II-B. The paper draws its boundaries by hand; these thresholds are this harness's settings (\`--set regimes.lmcBarrier=...\`, \`--set regimes.cka=...\`).`,
    `- Verdicts: a difference of test errors counts only beyond ${d.config.verdicts.noiseMultiple} standard errors of the two cells compared (each cell's from the spread of its dense seeds' means where there are two or more, else of its retrained models); a cell's mean LMC barrier or CKA only beyond ${d.config.verdicts.noiseMultiple} of its standard errors from a threshold (${pairNoise}); anything closer is INCONCLUSIVE. CKA range: each end within ${d.config.verdicts.ckaTolerance} of the paper's. LMC: a clear barrier outside the corner of the lowest ${Math.round(100 * d.config.verdicts.barrierCorner.densityShare)}% of densities and coldest ${Math.round(100 * d.config.verdicts.barrierCorner.temperatureShare)}% of temperatures contradicts the claim (the paper's corner: epochs >= 90 of 160 at densities <= 10%). Error range (full protocol only): within ${(100 * d.config.verdicts.errorRangeTolerance.highDensity).toFixed(1)} points at the highest density and ${(100 * d.config.verdicts.errorRangeTolerance.lowDensity).toFixed(1)} at the lowest. Claims over several densities need most of them to agree and none to contradict. Settings (each with \`--set\`): \`verdicts.noiseMultiple\`, \`verdicts.ckaTolerance\`, \`verdicts.barrierCorner.densityShare\` and \`.temperatureShare\`, \`verdicts.errorRangeTolerance.highDensity\` and \`.lowDensity\`.`,
    ...(d.scaledDown.length ? ["", "**Scaled down from the paper's protocol:** " + d.scaledDown.join("; ") + "."] : []),
    "",
    `**Differences from the authors' public code (YefanZhou/ThreeRegimePruning; the architecture, optimiser, schedule, augmentation, ${paperPruning(d.config) ? "layer-wise L1 pruning of all 21 convs" : "the choice of all 21 convs to prune"}, retraining, LMC barrier and linear CKA of the softmax outputs match):**`,
    "",
    ...deviations(d).map((x) => `- ${x}`),
    ...(d.failed.length ? ["", `**Units that did not complete (their cells are empty):** ${d.failed.map((f) => `${f.unit}: ${f.error}`).join("; ")}`] : []),
    "",
    "## Phase diagrams",
    "",
    "![Figure 2: test error, LMC barrier, CKA and regimes](fig2.svg)",
    "",
    `LMC barrier and CKA are coloured about the regime thresholds (${d.config.regimes.lmcBarrier} and ${d.config.regimes.cka}): white at the threshold, deeper with the distance from it, on a scale symmetric about it. A faded regime cell has its LMC barrier or CKA within ${d.config.verdicts.noiseMultiple} standard errors of a threshold, so its regime is uncertain; the claims count only the solid cells as beyond the noise.`,
    "",
    "Single panels: [test error](fig2-test-error.svg), [LMC barrier](fig2-lmc.svg), [CKA](fig2-cka.svg), [regimes](fig2-regimes.svg).",
    "",
    "## Claims",
    "",
    claimsTable(claims),
    "",
    "## Every cell",
    "",
    table(
      [
        "temperature",
        "density",
        "test error ± s.e.",
        ...(d.config.seeds.dense.length > 1 ? ["per dense seed"] : []),
        "per model",
        "LMC barrier ± s.e.",
        "per pair",
        "CKA ± s.e.",
        "per pair",
        "regime",
      ],
      d.cells.map((c) => [
        c.temperature,
        dLabel(c.density),
        c.testError === null ? "-" : c.testErrorStdErr === null ? fmt(c.testError, 4) : `${fmt(c.testError, 4)} ± ${fmt(c.testErrorStdErr, 4)}`,
        ...(d.config.seeds.dense.length > 1 ? [c.denseSeedErrors.map((e) => fmt(e.error, 4)).join(" / ")] : []),
        c.seedErrors.map((e) => e.toFixed(4)).join(" / "),
        withSe(c.lmcBarrier, c.lmcStdErr),
        c.pairs.map((p) => p.lmcBarrier.toFixed(3)).join(" / "),
        withSe(c.cka, c.ckaStdErr),
        c.pairs.map((p) => p.cka.toFixed(3)).join(" / "),
        c.regime ?? "-",
      ]),
    ),
    "",
  ].join("\n");
  return { markdown: md, svgs, claims };
}

import { expect, test } from "bun:test";
import { validateConfig } from "../../src/config/load.ts";
import type { Fig2Config } from "../../src/config/generated/fig2.ts";
import type { BipBenchConfig } from "../../src/config/generated/bip-bench.ts";
import type { SparseInferenceConfig } from "../../src/config/generated/sparse-inference.ts";
import { summarise } from "../../src/onnx/session-timing.ts";
import { runContext } from "../../src/util/provenance.ts";
import { heatmapSvg, type HeatmapCell } from "../../src/report/plots.ts";
import { renderFig2, type Fig2Data } from "../../src/report/fig2-report.ts";
import { regimeOf, type Fig2Cell } from "../../src/report/fig2-claims.ts";
import { renderBip, type BipData, type MethodPoint } from "../../src/report/bip-report.ts";
import { PRUNING_METHODS } from "../../src/runner/kinds/methods/registry.ts";
import { renderSparseInference, type InferenceResult, type SparseInferenceData } from "../../src/report/sparse-inference-report.ts";

// ---- reading Vega's SVG ----

type Rgb = [number, number, number];

function parseColor(c: string): Rgb {
  const named: Record<string, Rgb> = { white: [255, 255, 255], black: [0, 0, 0] };
  if (named[c]) return named[c]!;
  let m = /^#([0-9a-f]{6})$/i.exec(c);
  if (m) return [0, 2, 4].map((i) => parseInt(m![1]!.slice(i, i + 2), 16)) as Rgb;
  m = /^#([0-9a-f]{3})$/i.exec(c);
  if (m) return [0, 1, 2].map((i) => 17 * parseInt(m![1]![i]!, 16)) as Rgb;
  m = /^rgb\((\d+),\s*(\d+),\s*(\d+)\)$/.exec(c);
  if (m) return [+m[1]!, +m[2]!, +m[3]!];
  throw new Error(`colour ${c}`);
}

/** WCAG relative luminance and contrast ratio. */
function luminance(c: string): number {
  const [r, g, b] = parseColor(c).map((v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  }) as Rgb;
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
const contrast = (a: string, b: string) => {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p) as [number, number];
  return (x + 0.05) / (y + 0.05);
};

const attr = (tag: string, name: string) => new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1];

/**
 * Heatmap cells: each rect's fill and the fill of the text drawn on it, paired by the
 * "x: ..; y: .." prefix of their aria-labels (Vega writes the encoded fields there).
 */
function cellInks(svg: string): { key: string; fill: string; ink: string; text: string }[] {
  const rects = new Map<string, string>();
  for (const m of svg.matchAll(/<path [^>]*aria-roledescription="rect mark"[^>]*>/g)) {
    const label = attr(m[0], "aria-label")!;
    rects.set(label.split("; ").slice(0, 2).join("; "), attr(m[0], "fill")!);
  }
  const out: { key: string; fill: string; ink: string; text: string }[] = [];
  for (const m of svg.matchAll(/<text [^>]*aria-roledescription="text mark"[^>]*>([^<]*)<\/text>/g)) {
    const key = attr(m[0], "aria-label")!.split("; ").slice(0, 2).join("; ");
    const fill = rects.get(key);
    if (fill) out.push({ key, fill, ink: attr(m[0], "fill")!, text: m[1]! });
  }
  return out;
}

/** Text contents of every <text> inside the groups of one class (e.g. "role-axis-label"), one list per group. */
function textGroups(svg: string, cls: string): string[][] {
  return [...svg.matchAll(new RegExp(`<g class="mark-text ${cls}"[^>]*>((?:<text[^>]*>[^<]*</text>)*)</g>`, "g"))].map((m) =>
    [...m[1]!.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((t) => t[1]!),
  );
}

/** The label texts of the legend with this title, in drawing order. */
function legendLabels(svg: string, title: string): string[] {
  const start = svg.indexOf(`legend titled '${title}'`);
  if (start < 0) return [];
  const next = svg.indexOf('aria-roledescription="legend"', start + 1);
  const part = svg.slice(start, next < 0 ? undefined : next);
  return textGroups(part, "role-legend-label").flat();
}

const svgHeight = (svg: string) => +attr(svg.slice(0, svg.indexOf(">")), "height")!;

// ---- fixtures ----

const fig2Config = validateConfig<Fig2Config>("fig2", {});
const TEMPS = [5, 12, 18],
  DENSITIES = [0.8, 0.05, 0.2]; // unsorted on purpose: the figure orders load by density

function fig2Cells(): Fig2Cell[] {
  return TEMPS.flatMap((temperature, rank) =>
    DENSITIES.map((density) => {
      const testError = 0.3 - 0.2 * density - 0.02 * rank,
        lmcBarrier = density < 0.1 ? -0.12 + 0.01 * rank : 0.01,
        cka = 0.9 + 0.1 * density;
      return {
        temperature,
        hotRank: rank,
        density,
        testError,
        seedErrors: [testError - 0.001, testError + 0.001],
        denseSeedErrors: [{ seed: 1, error: testError }],
        testErrorStdErr: null,
        pairs: [],
        errorFrom: "measurement" as const,
        lmcBarrier,
        lmcStdErr: 0.005,
        cka,
        ckaStdErr: 0.002,
        regime: regimeOf(lmcBarrier, cka, fig2Config.regimes),
      };
    }),
  );
}

function fig2Data(): Fig2Data {
  return {
    context: runContext(new Date(0)),
    preset: "smokepreset",
    command: "bun run repro:fig2 --preset smokepreset --set 'seeds.retrain=[1,2]'",
    config: fig2Config,
    axis: "epochs",
    temperatures: TEMPS,
    densities: DENSITIES,
    cells: fig2Cells(),
    dataset: { name: "tinyset", source: "test", train: 100, test: 50 },
    engine: "test",
    unitCommits: [],
    wallSeconds: 1,
    computeSeconds: 1,
    unitsRun: 0,
    unitsReused: 0,
    failed: [],
    scaledDown: [],
    errorWindow: { first: 1, last: 2, count: 2, finalPhaseFirst: 1 },
    streams: { dense: "dense", retrain: "retrain-of-dense-seed-d" },
    trainFingerprints: ["x"],
  };
}

// ---- Figure 2 ----

test("fig2.svg is one figure: four panels side by side on the same x (load) and y (temperature) order, dataset and preset in its title", async () => {
  const { svgs, markdown } = await renderFig2(fig2Data());
  expect(markdown).toContain("Generated by `bun run repro:fig2 --preset smokepreset --set 'seeds.retrain=[1,2]'` (temperature axis: epochs)");
  for (const f of ["fig2.svg", "fig2-test-error.svg", "fig2-lmc.svg", "fig2-cka.svg", "fig2-regimes.svg"]) expect(svgs[f]).toStartWith("<svg");
  const svg = svgs["fig2.svg"]!;
  for (const t of ["Test error", "LMC barrier", "CKA", "Regimes"]) expect(svg).toContain(`Title text '${t}'`);
  const titles = [...svg.matchAll(/aria-label="Title text '([^']*)'"/g)].map((m) => m[1]!);
  expect(titles.filter((t) => t.includes("tinyset") && t.includes("smokepreset"))).toHaveLength(1);
  const axes = textGroups(svg, "role-axis-label");
  const xs = axes.filter((g) => g.some((l) => l.endsWith("%"))),
    ys = axes.filter((g) => !g.some((l) => l.endsWith("%")));
  expect(xs).toEqual(Array(4).fill(["5%", "20%", "80%"]));
  expect(ys).toEqual(Array(4).fill(["5", "12", "18"])); // hottest at the top, in every panel
  // One short y title for the row, on the first panel only.
  expect(
    textGroups(svg, "role-axis-title")
      .flat()
      .filter((t) => t === "dense epochs"),
  ).toHaveLength(1);
  // Shown first in the figures section; the single panels stay as files.
  const section = markdown.slice(markdown.indexOf("## Phase diagrams"));
  expect(section.split("\n").find((l) => l.startsWith("!["))).toContain("(fig2.svg)");
  for (const f of ["fig2-test-error.svg", "fig2-lmc.svg", "fig2-cka.svg", "fig2-regimes.svg"]) expect(section).toContain(f);
});

test("every legend says what its colour encodes", async () => {
  const { svgs } = await renderFig2(fig2Data());
  const svg = svgs["fig2.svg"]!;
  for (const t of ["test error", "LMC barrier", "CKA"]) expect(svg).toContain(`Gradient legend titled '${t}'`);
  expect(svg).toContain("Symbol legend titled 'regime'");
  expect(svgs["fig2-cka.svg"]).toContain("Gradient legend titled 'CKA'");
  expect(svgs["fig2-regimes.svg"]).toContain("Symbol legend titled 'regime'");
});

test("the plot is not squeezed by its y title: short y titles, cells fill a good part of each panel's height, on every temperature axis", async () => {
  for (const axis of ["epochs", "batch-size", "sam"] as const) {
    const { svgs } = await renderFig2({ ...fig2Data(), axis });
    for (const f of ["fig2-test-error.svg", "fig2-lmc.svg", "fig2-cka.svg", "fig2-regimes.svg", "fig2.svg"]) {
      const svg = svgs[f]!;
      const heights = [...svg.matchAll(/aria-roledescription="rect mark" d="M[\d.]+,[\d.]+h[\d.]+v([\d.]+)h/g)].map((m) => +m[1]!);
      const plot = heights[0]! * TEMPS.length;
      expect(plot).toBeGreaterThanOrEqual(120);
      expect(plot / svgHeight(svg)).toBeGreaterThan(0.4);
      // Vega sizes text by estimate (0.8 x font size per character; axis titles are 11px): a y title no longer than the plot cannot stretch the figure.
      const yTitles = textGroups(svg, "role-axis-title")
        .flat()
        .filter((t) => t !== "density (load)");
      expect(yTitles.length).toBeGreaterThan(0);
      for (const t of yTitles) expect(0.8 * 11 * t.length).toBeLessThanOrEqual(plot);
    }
  }
});

// ---- label contrast ----

const grid = (values: number[]): HeatmapCell[] => values.map((v, i) => ({ x: `c${i}`, y: "r", value: v, label: v.toFixed(2) }));
const axes = (n: number) => ({ xTitle: "x", yTitle: "y", xOrder: Array.from({ length: n }, (_, i) => `c${i}`), yOrder: ["r"] });
const WHITE = "#ffffff",
  BLACK = "#000000";

/** Each label is drawn in white or black, whichever contrasts more with its cell. */
function expectReadable(svg: string, n: number) {
  const cells = cellInks(svg);
  expect(cells).toHaveLength(n);
  for (const c of cells) {
    expect(["255,255,255", "0,0,0"]).toContain(parseColor(c.ink).join());
    const best = contrast(WHITE, c.fill) > contrast(BLACK, c.fill) ? WHITE : BLACK;
    expect(contrast(c.ink, c.fill)).toBeCloseTo(contrast(best, c.fill), 6);
  }
  return Object.fromEntries(cells.map((c) => [c.text, parseColor(c.ink).join() === "255,255,255" ? "light" : "dark"]));
}

test("heatmap labels contrast with their cells: light text on dark cells, dark text on light ones (viridis, reversed, diverging, nominal)", async () => {
  const values = [0, 0.25, 0.5, 0.75, 1];
  const viridis = expectReadable(await heatmapSvg({ ...axes(5), title: "t", legendTitle: "v", cells: grid(values), scheme: "viridis" }), 5);
  expect(viridis["0.00"]).toBe("light"); // viridis: low values are dark purple
  expect(viridis["1.00"]).toBe("dark"); // high values are yellow
  const reversed = expectReadable(await heatmapSvg({ ...axes(5), title: "t", legendTitle: "v", cells: grid(values), scheme: "viridis", reverse: true }), 5);
  expect(reversed["0.00"]).toBe("dark");
  expect(reversed["1.00"]).toBe("light");
  const diverging = expectReadable(
    await heatmapSvg({ ...axes(5), title: "t", legendTitle: "v", cells: grid([-0.12, -0.06, 0, 0.004, 0.01]), scheme: "redblue", domainMid: 0 }),
    5,
  );
  expect(diverging["-0.12"]).toBe("light"); // deep red
  expect(diverging["0.00"]).toBe("dark"); // the white middle
  expect(diverging["0.01"]).toBe("light"); // deep blue
  const nominal = expectReadable(
    await heatmapSvg({
      ...axes(3),
      title: "t",
      legendTitle: "regime",
      cells: ["dark", "light", "n/a"].map((l, i) => ({ x: `c${i}`, y: "r", value: null, label: l })),
      nominal: { domain: ["dark", "light"], range: ["#1a1a60", "#f0f060"] },
    }),
    3,
  );
  expect(nominal).toEqual({ dark: "light", light: "dark", "n/a": "dark" }); // unknown categories: light grey
});

test("the combined Figure 2 labels its dark cells in a light colour too", async () => {
  const { svgs } = await renderFig2(fig2Data());
  const panels = svgs["fig2.svg"]!.split(/class="mark-group role-scope panel\d_group"/).slice(1);
  expect(panels).toHaveLength(4);
  const cells = panels.flatMap(cellInks); // paired within each panel: the panels' cells have the same x and y
  expect(cells).toHaveLength(4 * TEMPS.length * DENSITIES.length);
  const inks = new Set(cells.map((c) => parseColor(c.ink).join()));
  expect(inks).toEqual(new Set(["255,255,255", "0,0,0"]));
  for (const c of cells) expect(contrast(c.ink, c.fill)).toBeGreaterThanOrEqual(Math.max(contrast(WHITE, c.fill), contrast(BLACK, c.fill)) - 1e-9);
});

// ---- noise and thresholds in Figure 2 ----

/** "x title: 5%; y title: 12" -> "5%; 12" (a panel without a y title names the field "y"). */
const valuesKey = (prefix: string) =>
  prefix
    .split("; ")
    .map((p) => p.slice(p.indexOf(": ") + 2))
    .join("; ");

/** The rect marks of one SVG (or part of one), keyed by the x and y values in their aria-labels ("5%; 12"). */
function rects(svg: string): Map<string, { fill: string; opacity: number; label: string }> {
  const out = new Map<string, { fill: string; opacity: number; label: string }>();
  for (const m of svg.matchAll(/<path [^>]*aria-roledescription="rect mark"[^>]*>/g)) {
    const label = attr(m[0], "aria-label")!;
    out.set(valuesKey(label.split("; ").slice(0, 2).join("; ")), { fill: attr(m[0], "fill")!, opacity: +(attr(m[0], "opacity") ?? 1), label });
  }
  return out;
}

/** A fill drawn at `opacity` over the white background, as the eye sees it. */
const overWhite = (fill: string, opacity: number) =>
  `rgb(${parseColor(fill)
    .map((v) => Math.round(opacity * v + (1 - opacity) * 255))
    .join(",")})`;
const cellKey = (c: Fig2Cell) => `${+(100 * c.density).toFixed(1)}%; ${c.temperature}`;

test("regimes: a cell whose regime lies within the noise of a threshold is drawn faded, explained by a legend; the others solid, as the claims table counts them", async () => {
  const d = fig2Data();
  const t = d.config.regimes,
    k = d.config.verdicts.noiseMultiple;
  const move = (c: Fig2Cell, lmcBarrier: number, cka: number) => Object.assign(c, { lmcBarrier, cka, regime: regimeOf(lmcBarrier, cka, t) });
  const [a, b] = [d.cells[0]!, d.cells[4]!];
  move(a, t.lmcBarrier - 0.5 * k * a.lmcStdErr!, a.cka!); // regime I, but within k s.e. of the LMC threshold
  move(b, 0.01, t.cka + 0.5 * k * b.ckaStdErr!); // regime II-B, but within k s.e. of the CKA threshold
  expect([a.regime, b.regime]).toEqual(["I", "II-B"]);
  const uncertain = new Set([cellKey(a), cellKey(b)]);
  const { svgs, claims } = await renderFig2(d);
  const regimesPanel = svgs["fig2.svg"]!.split(/class="mark-group role-scope panel\d_group"/)[4]!;
  for (const svg of [svgs["fig2-regimes.svg"]!, regimesPanel]) {
    const cells = rects(svg);
    expect(cells.size).toBe(d.cells.length);
    for (const [key, r] of cells) {
      if (uncertain.has(key)) expect(r.opacity).toBeLessThan(0.6);
      else expect(r.opacity).toBe(1);
    }
    expect(svg).toContain(`legend titled 'vs the thresholds' for opacity with 2 values: beyond ${k} s.e., within ${k} s.e. (uncertain)`);
    // Labels contrast with the faded fill as drawn (over white), not with the full colour.
    for (const c of cellInks(svg)) {
      const shown = overWhite(c.fill, cells.get(valuesKey(c.key))!.opacity);
      expect(contrast(c.ink, shown)).toBeCloseTo(Math.max(contrast(WHITE, shown), contrast(BLACK, shown)), 6);
    }
  }
  // The solid cells are the ones the claims table counts as beyond the noise.
  const clear = /beyond the noise of the thresholds: I (\d+), II-A (\d+), II-B (\d+)/.exec(
    claims.find((c) => c.claim.startsWith("All three regimes"))!.measured,
  )!;
  expect(+clear[1]! + +clear[2]! + +clear[3]!).toBe(d.cells.length - uncertain.size);
});

/** The numbers a gradient legend is labelled with (Vega prints minus signs as U+2212). */
const legendNumbers = (svg: string, title: string) => legendLabels(svg, title).map((l) => +l.replace("\u2212", "-"));
const rgbOf = (svg: string, key: string) => parseColor(rects(svg).get(key)!.fill);

test("LMC and CKA colours diverge at the regime thresholds (the settings): white at the threshold, a fixed domain symmetric about it holding every value, labelled at the threshold", async () => {
  for (const regimes of [
    { lmcBarrier: -0.05, cka: 0.95 },
    { lmcBarrier: -0.1, cka: 0.9 },
  ]) {
    const d = fig2Data();
    d.config = { ...d.config, regimes };
    const t = regimes.lmcBarrier,
      u = regimes.cka;
    // Offsets from the thresholds: the LMC values include the smoke run's -0.039, -0.028 and +0.009 shifted by t + 0.05.
    const lmcOff = [0, 0.011, 0.022, 0.059, -0.06, 0.1, -0.02, 0.03, 0.002],
      ckaOff = [0, -0.03, 0.02, 0.04, -0.01, 0.005, -0.045, 0.01, 0.03];
    d.cells.forEach((c, i) => Object.assign(c, { lmcBarrier: t + lmcOff[i]!, cka: u + ckaOff[i]!, regime: regimeOf(t + lmcOff[i]!, u + ckaOff[i]!, regimes) }));
    const { svgs } = await renderFig2(d);
    const keys = d.cells.map(cellKey);
    for (const [file, title, off, mid] of [
      ["fig2-lmc.svg", "LMC barrier", lmcOff, t],
      ["fig2-cka.svg", "CKA", ckaOff, u],
    ] as const) {
      const svg = svgs[file]!;
      const lum = (i: number) => luminance(rects(svg).get(keys[i]!)!.fill);
      const [r0, g0, b0] = rgbOf(svg, keys[0]!); // the cell at the threshold: the scheme's neutral middle, the lightest cell
      expect(Math.max(r0, g0, b0) - Math.min(r0, g0, b0)).toBeLessThan(16);
      for (let i = 1; i < off.length; i++) expect(lum(i)).toBeLessThan(lum(0));
      // Farther from the threshold = deeper colour, on each side (+0.009 deeper than -0.028 when the threshold is -0.05).
      for (const sign of [1, -1]) {
        const side = off
          .map((o, i) => [sign * o, i] as const)
          .filter(([o]) => o > 0)
          .sort((p, q) => p[0] - q[0]);
        for (let j = 1; j < side.length; j++) expect(lum(side[j]![1])).toBeLessThan(lum(side[j - 1]![1]) + 1e-9);
      }
      // Above and below the threshold: different hues (offsets under 0.01 left out: the schemes' middles are not perfectly neutral).
      const hue = (i: number) => {
        const [r, g, b] = rgbOf(svg, keys[i]!);
        return file === "fig2-lmc.svg" ? Math.sign(b - r) : Math.sign(g - r); // redblue: red below, blue above; purplegreen: purple below, green above
      };
      for (let i = 1; i < off.length; i++) if (Math.abs(off[i]!) >= 0.01) expect(hue(i)).toBe(Math.sign(off[i]!));
      // A fixed legend: both ends and the threshold, symmetric about it, every value inside.
      const labels = legendNumbers(svg, title);
      expect(labels).toContain(mid);
      const lo = Math.min(...labels),
        hi = Math.max(...labels);
      expect(hi - mid).toBeCloseTo(mid - lo, 9);
      for (const o of off) {
        expect(mid + o).toBeGreaterThanOrEqual(lo);
        expect(mid + o).toBeLessThanOrEqual(hi);
      }
    }
  }
});

test("the figures depend on the data alone: no time, random id or order of the cells changes them, one cell's value does", async () => {
  const a = await renderFig2(fig2Data());
  const shuffled = fig2Data();
  shuffled.cells = [...shuffled.cells].reverse();
  expect((await renderFig2(shuffled)).svgs).toEqual(a.svgs);
  const changed = fig2Data();
  changed.cells = changed.cells.map((c, i) => (i === 0 ? { ...c, testError: c.testError! + 0.05 } : c));
  const b = (await renderFig2(changed)).svgs;
  expect(b["fig2-test-error.svg"]).not.toEqual(a.svgs["fig2-test-error.svg"]);
  expect(b["fig2-lmc.svg"]).toEqual(a.svgs["fig2-lmc.svg"]);
});

// ---- BiP ----

const bipConfig = validateConfig<BipBenchConfig>("bip-bench", {});

function bipData(methods: string[]): BipData {
  const acc: Record<string, (t: number) => number> = { IMP: () => 0.86, OMP: () => 0.85, BiP: () => 0.855, "BiP-filter": (t) => 0.84 - 0.5 * t };
  const points: MethodPoint[] = [0.2, 0.5, 0.8].flatMap((target) =>
    methods.map((method) => ({
      method,
      target,
      sparsity: target,
      accuracies: [acc[method]!(target) - 0.002, acc[method]!(target) + 0.002],
      seconds: [10, 11],
    })),
  );
  return {
    context: runContext(new Date(0)),
    preset: "test",
    command: "bun run bench:bip-vs-imp --preset test",
    config: bipConfig,
    dataset: { name: "d", source: "s", train: 1, test: 1 },
    engine: "test",
    unitCommits: [],
    dense: { accuracy: 0.853, seconds: 60 },
    points,
    methods: methods.map((label) => ({ label, description: label })),
    timing: "test",
    scaledDown: [],
    trainFingerprints: ["x"],
    epochSeconds: { imp: [], bip: [] },
    engineSettings: methods.map((label) => ({ label, settings: ["onnx/cpu, fp32, deterministic"] })),
    failed: [],
  };
}

test("BiP report: the per-epoch cost of BiP in IMP epochs beside the paper's ratio, and engine settings per method, flagged when they differ", async () => {
  const d = { ...bipData(["IMP", "BiP"]), epochSeconds: { imp: [2, 2.2], bip: [4.2] } };
  const same = (await renderBip(d)).markdown;
  // 4.2 s / mean(2, 2.2) = 4.2 / 2.1 = 2.00 IMP epochs.
  expect(same).toContain(
    "one BiP epoch took 4.20 s (mean of 1 units), one IMP epoch 2.10 s (mean of 2 rounds): one BiP epoch costs 2.00 IMP epochs; the paper's reported times imply about 2.0",
  );
  expect(same).toContain("IMP: onnx/cpu, fp32, deterministic; BiP: onnx/cpu, fp32, deterministic.");
  expect(same).not.toContain("different settings");
  const differ = {
    ...d,
    engineSettings: [d.engineSettings[0]!, { label: "BiP", settings: ["torch/cuda, tf32, cuDNN not deterministic, not bit-reproducible"] }],
  };
  expect((await renderBip(differ)).markdown).toContain("**the methods ran with different settings**");
  expect((await renderBip({ ...d, epochSeconds: { imp: [], bip: [4.2] } })).markdown).toContain("Per-epoch cost: not measured");
});

test("BiP accuracy: the dense model as a labelled baseline, filter-wise BiP in its own panel with its own y range", async () => {
  const { svgs } = await renderBip(bipData(["IMP", "OMP", "BiP", "BiP-filter"]));
  const svg = svgs["bip-vs-imp-accuracy.svg"]!;
  expect(svg.match(/>dense<\/text>/g)).toHaveLength(2); // one rule label per panel
  expect(svg).toContain("Title text 'Unstructured: IMP, OMP, BiP'");
  expect(svg).toContain("Title text 'Filter-wise: BiP-filter'");
  const [first, second] = svg.split('class="mark-group role-scope concat_1_group"') as [string, string];
  expect(second).toBeDefined();
  expect(first).not.toContain("method: BiP-filter"); // its points are only in the second panel
  expect(second).toContain("method: BiP-filter");
  expect(second).not.toContain("method: IMP");
  const yLabels = (part: string) =>
    textGroups(part, "role-axis-label")
      .filter((g) => !g.some((l) => l.endsWith("%")))
      .flat()
      .map(Number);
  expect(Math.min(...yLabels(first))).toBeGreaterThan(0.8); // the unstructured methods are not flattened by BiP-filter's 44%
  expect(Math.min(...yLabels(second))).toBeLessThan(0.5);
  expect(svg).toContain("legend titled 'method'");
});

/** Point centres and error-bar ends of a line chart, relative to their panel (each panel's marks are drawn in its own frame). */
function chartMarks(svg: string) {
  const translate = (tag: string) => /translate\(([-\d.e]+),([-\d.e]+)\)/.exec(attr(tag, "transform")!)!.slice(1).map(Number) as [number, number];
  const points = [...svg.matchAll(/<path [^>]*aria-roledescription="point"[^>]*>/g)].map((m) => translate(m[0]));
  const bars = [...svg.matchAll(/<line [^>]*aria-roledescription="rule mark"[^>]*>/g)]
    .filter((m) => attr(m[0], "aria-label")!.includes("; lo: "))
    .map((m) => {
      const [x, y] = translate(m[0]);
      return { x, y1: y, y2: y + +attr(m[0], "y2")! };
    });
  return { points, bars };
}

test("BiP plots: every point strictly inside the plot (x padded past the first and last sparsity), every error bar whole", async () => {
  const d = bipData(["IMP", "OMP", "BiP", "BiP-filter"]);
  const omp = d.points.find((p) => p.method === "OMP" && p.target === 0.2)!;
  omp.accuracies = [0.89086, 0.84914]; // a wide error bar at the lowest sparsity, above every other value, its top just under a round 0.9
  for (const methods of [d, bipData(["IMP", "BiP"])]) {
    const { svgs } = await renderBip(methods);
    for (const f of ["bip-vs-imp-accuracy.svg", "bip-vs-imp-time.svg"]) {
      const { points, bars } = chartMarks(svgs[f]!);
      expect(points).toHaveLength(methods.points.length);
      for (const [x, y] of points) {
        expect(x).toBeGreaterThan(0);
        expect(x).toBeLessThan(360);
        expect(y).toBeGreaterThan(0);
        expect(y).toBeLessThan(220);
      }
      for (const b of bars) {
        expect(b.x).toBeGreaterThan(0);
        for (const y of [b.y1, b.y2]) {
          // Whole, and clear of the frame: not drawn along it.
          expect(y).toBeGreaterThanOrEqual(3);
          expect(y).toBeLessThanOrEqual(220 - 3);
        }
      }
      if (f === "bip-vs-imp-accuracy.svg") expect(bars).toHaveLength(methods.points.length);
    }
  }
});

test("the BiP report states the protocol as run, not how the code got there (no revisions, no earlier results)", async () => {
  const d = bipData(["IMP", "OMP", "BiP", "BiP-filter"]);
  // The methods' own protocol lines, as the bench writes them.
  d.methods = Object.values(PRUNING_METHODS).map((m) => ({ label: m.label, description: m.describe(bipConfig) }));
  for (const p of d.points) if (p.method.startsWith("BiP")) p.accuraciesRunningBn = p.accuracies.map((a) => a - 0.01);
  const { markdown } = await renderBip(d);
  const protocol = markdown.slice(markdown.indexOf("## Protocol as run"), markdown.indexOf("## Accuracy and time"));
  expect(protocol).not.toMatch(/revision|earlier run|quick report/i);
  // The protocol statements stay: what BiP does, and what BN re-estimation changes.
  expect(protocol).toContain("- BiP: Scores from the pretrained magnitudes");
  expect(protocol).toContain("Its accuracy over increasing sparsity");
  expect(protocol).toContain("Re-estimating BN under the final mask");
});

test("BiP accuracy without filter-wise BiP is one panel, still with the dense baseline", async () => {
  const svg = (await renderBip(bipData(["IMP", "BiP"]))).svgs["bip-vs-imp-accuracy.svg"]!;
  expect(svg).not.toContain("concat_1_group");
  expect(svg.match(/>dense<\/text>/g)).toHaveLength(1);
});

// ---- sparse inference ----

const siConfig = validateConfig<SparseInferenceConfig>("sparse-inference", {});

function siResult(model: string, kind: InferenceResult["kind"], theory: number, ms: number, channelMultiple?: number): InferenceResult {
  const lat = Array.from({ length: 20 }, (_, i) => ms * (1 + (0.02 * i) / 19));
  return {
    model,
    kind,
    storage: "dense initializers",
    nominalDensity: 1 / theory,
    ...(channelMultiple ? { channelMultiple } : {}),
    convWeightDensity: 1 / theory,
    theoreticalSpeedup: theory,
    testAccuracy: 0.9,
    check: { images: 10, correct: 9, expected: 9 },
    bytes: 1000,
    status: "measured",
    latency: summarise([lat], 1, 5),
    throughput: siConfig.throughputBatches.map((b) => summarise([lat.map((x) => (x * b) / 8)], b, 5)),
  };
}

test("sparse inference: colour = kind of pruning, shape = batch size in numeric order, the y = x line labelled", async () => {
  const d: SparseInferenceData = {
    context: runContext(new Date(0)),
    preset: "test",
    provider: "cpu",
    threads: 2,
    nchwcBlock: 16,
    config: siConfig,
    model: { arch: "a", width: 16, inputShape: [1, 28, 28], dataset: "d", manifest: "m" },
    results: [
      siResult("dense", "dense", 1, 1),
      siResult("u10", "unstructured", 6, 1),
      siResult("u50", "unstructured", 2, 1),
      siResult("s50", "structured", 2, 0.6),
      siResult("s25", "structured", 4, 0.4),
      siResult("s25x16", "structured", 3, 0.5, 16),
    ],
    profiles: [],
  };
  const { svg } = await renderSparseInference(d);
  const batches = [siConfig.latencyBatch, ...siConfig.throughputBatches].sort((a, b) => a - b).map(String);
  expect([...batches].sort()).not.toEqual(batches); // as strings they would sort differently ("1", "128", "64")
  expect(legendLabels(svg, "batch size")).toEqual(batches);
  expect(legendLabels(svg, "pruning")).toEqual(["structured", "structured x16", "unstructured"]); // no batch sizes mixed in
  expect(svg).toMatch(/>y = x<\/text>/);
  expect(svg).toContain("no speedup");
});

test("the fig2 report's protocol lines and cell table follow the settings: seeds, normalisation, axis, failures, the averaging window", async () => {
  const base = fig2Data();
  // The default 3 dense x 3 retrain seeds match the authors' figure: no seed departure, a per-dense-seed column.
  const full = (await renderFig2(base)).markdown;
  expect(full).not.toContain("LMC and CKA: the mean over");
  expect(full).toContain("| temperature | density | test error ± s.e. | per dense seed | per model |");
  expect(full).toContain("Normalisation: the dataset's true per-channel std");
  expect(full).not.toContain("Batch-size axis:");
  expect(full).toContain(
    `mean over retrain epochs 1-2 (the last 2 of ${base.config.retrain.epochs}: ceil(${base.config.metrics.errorWindow} x ${base.config.retrain.epochs})`,
  );
  // One dense seed and two retrain seeds: one pair per cell, said twice over; no per-dense-seed column.
  const few = {
    ...base,
    errorWindow: { first: 2, last: 2, count: 1, finalPhaseFirst: 2 },
    axis: "batch-size" as const,
    failed: [{ unit: "retrain T=5", error: "diverged" }],
    config: {
      ...base.config,
      seeds: { dense: [4], retrain: [1, 2] } as Fig2Config["seeds"],
      dense: { ...base.config.dense, data: { ...base.config.dense.data, normalization: "authors" as const } },
    },
  };
  const md = (await renderFig2(few)).markdown;
  expect(md).toContain("- LMC and CKA: the mean over 1 pair(s) of 2 retrain seeds under each of 1 dense seed(s), 1 value(s) per cell;");
  expect(md).toContain("- 1 dense seed(s) (4); the authors' figure averages 3 dense seeds");
  expect(md).toContain("| dense 4; retrain 1, 2 (every pair: 1 LMC/CKA values per cell) |");
  expect(md).toContain("- Normalisation: the authors' constants (data.normalization=authors)");
  expect(md).toContain("- Batch-size axis: dense epochs = round(iterations x batch / images)");
  expect(md).toContain("**Units that did not complete (their cells are empty):** retrain T=5: diverged");
  expect(md).toContain("mean over retrain epoch 2 (the last 1 of");
  expect(md).toContain("| temperature | density | test error ± s.e. | per model |");
  // Three dense seeds but two retrain seeds still departs from the authors' 9 values per cell.
  const twoRetrain = (await renderFig2({ ...base, config: { ...base.config, seeds: { dense: [1, 2, 3], retrain: [1, 2] } as Fig2Config["seeds"] } })).markdown;
  expect(twoRetrain).toContain("- LMC and CKA: the mean over 1 pair(s) of 2 retrain seeds under each of 3 dense seed(s), 3 value(s) per cell;");
  expect(twoRetrain).not.toContain("dense seed(s) (1, 2, 3)");
  // A cell without an error, or without its error's s.e.
  const c0 = base.cells[0]!;
  const gaps = { ...base, cells: [{ ...c0, testError: null, seedErrors: [] }, { ...base.cells[1]!, testErrorStdErr: null }, ...base.cells.slice(2)] };
  const rows = (await renderFig2(gaps)).markdown.split("\n");
  const row = (c: Fig2Cell) => rows.find((l) => l.startsWith(`| ${c.temperature} | ${+(100 * c.density).toFixed(1)}% |`))!;
  expect(row(c0).split(" | ")[2]).toBe("-");
  expect(row(base.cells[1]!).split(" | ")[2]).toBe(base.cells[1]!.testError!.toFixed(4));
});

test("BiP report: the points table, the speedups with and without the dense pretraining, and filter-wise BiP's trend, worked by hand", async () => {
  const d = bipData(["IMP", "BiP"]);
  // Targets 0.2 / 0.5 / 0.8 as configured sparsities; IMP takes 3x BiP's time at 0.5.
  const points = d.points.map((p) => (p.method === "IMP" && p.target === 0.5 ? { ...p, seconds: [30, 33] } : p));
  const md = (await renderBip({ ...d, points, config: { ...d.config, sparsities: [0.5, 0.59] } })).markdown;
  // 31.5 s over 10.5 s = 3.00x; with the 60 s dense pretraining each: 91.5 / 70.5 = 1.30x. 59% has no points; the paper's 3.2x.
  expect(md).toContain("| 50.0% | 3.00x | 1.30x | - |");
  expect(md).toContain("| 59.0% | - | - | 3.2x |");
  // The accuracy cell: mean ± sd in points (seeds 0.858 and 0.862: sd 0.28 points), per seed, time without and with pretraining.
  expect(md).toContain("| 50.0% | IMP | 50.00% | 86.00% ± 0.28 | 85.80 / 86.20 | - | 31.5 s | 91.5 s |");
  // Filter-wise BiP: falling accuracy, with and without re-estimated BN, and what re-estimation changes.
  const f = (t: number, acc: number, run?: number): MethodPoint => ({
    method: "BiP-filter",
    target: t,
    sparsity: t,
    accuracies: [acc],
    ...(run === undefined ? {} : { accuraciesRunningBn: [run] }),
    seconds: [1],
  });
  const withFilter = bipData(["IMP", "BiP", "BiP-filter"]);
  const trend = async (ps: MethodPoint[]) =>
    (await renderBip({ ...withFilter, points: [...withFilter.points.filter((p) => p.method !== "BiP-filter"), ...ps] })).markdown;
  expect(await trend([f(0.8, 0.7, 0.6), f(0.2, 0.8, 0.79)])).toContain(
    "Its accuracy over increasing sparsity: 80.0 -> 70.0% with re-estimated BN (falling at every step), 79.0 -> 60.0% with the running statistics (falling at every step). Re-estimating BN under the final mask, which removes the stale statistics of channels switched on or off late, changes it by 1.0, 10.0 points.",
  );
  const bumpy = await trend([f(0.2, 0.8), f(0.5, 0.82), f(0.8, 0.7)]);
  expect(bumpy).toContain("80.0 -> 82.0 -> 70.0% with re-estimated BN (**not monotonic**).");
  expect(bumpy).not.toContain("with the running statistics");
  expect(await trend([f(0.2, 0.8, 0.8)])).not.toContain("Its accuracy over increasing sparsity");
});

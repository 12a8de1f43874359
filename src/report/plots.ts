import * as vega from "vega";
import * as vl from "vega-lite";

/** One view inside a concatenation (a unit or a layer spec, without the top-level properties). */
type SubSpec = Extract<vl.TopLevelSpec, { hconcat: unknown }>["hconcat"][number];

const SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json";
const CONFIG = { background: "white", legend: { titleFontSize: 11, labelLimit: 300 } };

/**
 * Vega numbers gradients and clip paths with process-wide counters, so the same figure drawn
 * after others would get other ids: renumber them in order of appearance within this SVG.
 */
function stableDefIds(svg: string): string {
  const ids = new Map<string, string>();
  const count = { gradient_: 0, clip: 0 };
  return svg.replace(
    /(id="|url\(#|href="#)(p_)?(gradient_|clip)(\d+)/g,
    (_m, ref: string, pattern: string | undefined, kind: "gradient_" | "clip", n: string) => {
      const key = kind + n;
      if (!ids.has(key)) ids.set(key, `${kind}${count[kind]++}`);
      return ref + (pattern ?? "") + ids.get(key)!;
    },
  );
}

/** Headless: Vega's scenegraph without a renderer, serialised to SVG; deterministic for the same spec. */
async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  return stableDefIds(await new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" }).toSVG());
}

const titleOf = (text: string, subtitle?: string | string[]) => (subtitle?.length ? { text, subtitle } : text);

export interface HeatmapCell {
  x: string;
  y: string;
  value: number | null;
  label: string;
  /** Drawn faded (see `HeatmapPanel.fade`): e.g. a classification within the noise. */
  faded?: boolean;
}

/** The categorical axes of a phase diagram, shared by every panel drawn with them. */
export interface HeatmapAxes {
  /** Short axis titles: the details belong in the (sub)title, a long y title would shrink the plot. */
  xTitle: string;
  yTitle: string;
  xOrder: string[];
  yOrder: string[];
}

/** One heatmap: colour by value (or by category when `nominal`), each cell labelled. */
export interface HeatmapPanel {
  /** Keep it short in a grid: Vega estimates text widths (0.8 x font size per character) and spaces panels by them. */
  title: string;
  subtitle?: string | string[];
  cells: HeatmapCell[];
  /** What the colour encodes, as the legend's title ("test error", "regime"). */
  legendTitle: string;
  scheme?: string;
  reverse?: boolean;
  domainMid?: number;
  /**
   * A diverging scale about this value (a threshold): the domain is fixed, symmetric about it
   * and wide enough for every value (`symmetricDomain`), values are clamped, and the legend is
   * labelled at both ends and at the threshold. Takes the place of `domainMid`.
   */
  divergingAt?: number;
  nominal?: { domain: string[]; range: string[] };
  /** Cells marked `faded` are drawn at a lower opacity, explained by a legend with these entries. */
  fade?: { title: string; solid: string; faded: string };
}

/** Pixel size of one heatmap cell; a panel is never shorter than MIN_PANEL_HEIGHT. */
const CELL = { width: 46, height: 34 };
const MIN_PANEL_HEIGHT = 136;
const LIGHT_INK = "#ffffff",
  DARK_INK = "#000000";
/** Opacity of a faded cell (drawn over the white background). */
const FADED_OPACITY = 0.35;

/** Rounds up to 1, 2, 2.5 or 5 times a power of ten. */
function niceCeil(x: number): number {
  const p = 10 ** Math.floor(Math.log10(x));
  return p * [1, 2, 2.5, 5, 10].find((m) => m * p >= x * (1 - 1e-12))!;
}

/** The decimals needed to print each of these numbers exactly (at most 6). */
const decimals = (xs: number[]) => Math.max(...xs.map((x) => (+x.toFixed(6)).toString().split(".")[1]?.length ?? 0));

/**
 * A colour domain symmetric about `mid` that holds every value: mid -/+ the largest distance
 * of a value from mid, rounded up to a nice number.
 */
export function symmetricDomain(values: number[], mid: number): [number, number] {
  const far = Math.max(0, ...values.filter(Number.isFinite).map((v) => Math.abs(v - mid)));
  const h = niceCeil(far > 0 ? far : 0.1 * (Math.abs(mid) || 1));
  const round = (x: number) => +x.toPrecision(12);
  return [round(mid - h), round(mid + h)];
}

/**
 * The layered rect + text view of one heatmap panel. Its colour scale is named `${name}_color`
 * by Vega-Lite, so each label's colour is decided from the fill Vega itself computed for the
 * cell: white or black, whichever contrasts more with it (WCAG contrast). This follows the
 * scheme, `reverse`, `domainMid` and nominal fills without re-implementing the scale.
 */
function heatmapPanelSpec(p: HeatmapPanel, a: HeatmapAxes, name: string, o: { yTitle: boolean; legend: "right" | "bottom" }): SubSpec {
  const width = CELL.width * a.xOrder.length,
    height = Math.max(MIN_PANEL_HEIGHT, CELL.height * a.yOrder.length);
  const legend = {
    title: p.legendTitle,
    ...(o.legend === "bottom" ? { orient: "bottom" as const, direction: "horizontal" as const, gradientLength: Math.max(120, width - 40) } : {}),
  };
  const values = p.cells.filter((c) => c.value !== null || p.nominal).map((c) => (p.fade ? { ...c, fade: c.faded ? p.fade.faded : p.fade.solid } : c));
  // Categories outside the given domain (e.g. "n/a") are drawn grey rather than cycling through the range.
  const unknown = p.nominal ? [...new Set(values.map((c) => c.label))].filter((l) => !p.nominal!.domain.includes(l)).sort() : [];
  const color = p.nominal
    ? {
        field: "label",
        type: "nominal" as const,
        scale: { domain: [...p.nominal.domain, ...unknown], range: [...p.nominal.range, ...unknown.map(() => "#cccccc")] },
        legend,
      }
    : p.divergingAt !== undefined
      ? (() => {
          const domain = symmetricDomain(
            values.map((c) => c.value!),
            p.divergingAt,
          );
          return {
            field: "value",
            type: "quantitative" as const,
            scale: { scheme: p.scheme ?? "redblue", reverse: p.reverse ?? false, domain, domainMid: p.divergingAt, clamp: true },
            // Every label printed with the decimals its value needs (and no fewer than the others').
            legend: { ...legend, values: [domain[0], p.divergingAt, domain[1]], format: `.${decimals([...domain, p.divergingAt])}f`, labelOverlap: false },
          };
        })()
      : {
          field: "value",
          type: "quantitative" as const,
          scale: { scheme: p.scheme ?? "viridis", reverse: p.reverse ?? false, ...(p.domainMid !== undefined ? { domainMid: p.domainMid } : {}) },
          legend,
        };
  const scaled = `scale(${JSON.stringify(`${name}_color`)}, datum[${JSON.stringify(p.nominal ? "label" : "value")}])`;
  // A faded cell shows its fill blended with the white background: the label contrasts with that.
  const blend = (ch: "r" | "g" | "b") => `round(${FADED_OPACITY} * rgb(${scaled}).${ch} + ${(1 - FADED_OPACITY) * 255})`;
  const fill = p.fade ? `(datum.faded ? 'rgb(' + ${blend("r")} + ',' + ${blend("g")} + ',' + ${blend("b")} + ')' : ${scaled})` : scaled;
  const ink = `contrast('${LIGHT_INK}', ${fill}) > contrast('${DARK_INK}', ${fill}) ? '${LIGHT_INK}' : '${DARK_INK}'`;
  const opacity = p.fade && {
    field: "fade",
    type: "ordinal" as const,
    sort: [p.fade.solid, p.fade.faded],
    scale: { domain: [p.fade.solid, p.fade.faded], range: [1, FADED_OPACITY] },
    legend: {
      title: p.fade.title,
      symbolType: "square",
      symbolFillColor: "#555555",
      symbolStrokeWidth: 0,
      ...(o.legend === "bottom" ? { orient: "bottom" as const, direction: "vertical" as const } : {}),
    },
  };
  return {
    name,
    title: titleOf(p.title, p.subtitle),
    width,
    height,
    data: { values },
    encoding: {
      x: { field: "x", type: "ordinal", sort: a.xOrder, scale: { domain: a.xOrder }, title: a.xTitle, axis: { labelAngle: 0 } },
      y: { field: "y", type: "ordinal", sort: a.yOrder, scale: { domain: a.yOrder }, title: o.yTitle ? a.yTitle : null },
    },
    layer: [
      { mark: "rect", encoding: { color, ...(opacity ? { opacity } : {}) } },
      { mark: { type: "text", fontSize: 10 }, encoding: { text: { field: "label", type: "nominal" }, color: { value: { expr: ink } } } },
    ],
  };
}

/**
 * A phase-diagram panel as SVG: categorical x (load) and y (temperature), colour by
 * value (or by category when `nominal`), each cell labelled with its value in a colour
 * that contrasts with the cell. Rendered headless by Vega; deterministic for the same input.
 */
export async function heatmapSvg(o: HeatmapAxes & HeatmapPanel): Promise<string> {
  const panel = heatmapPanelSpec(o, o, "heatmap", { yTitle: true, legend: "right" });
  return renderSvg({ $schema: SCHEMA, ...panel, config: { ...CONFIG, view: { stroke: null } } } as vl.TopLevelSpec);
}

/**
 * Several phase diagrams side by side on the same axes (same x and y order; the y title on the
 * first panel only), each with its own colour scale and legend below it.
 */
export async function heatmapGridSvg(o: { title: string; subtitle?: string; axes: HeatmapAxes; panels: HeatmapPanel[] }): Promise<string> {
  return renderSvg({
    $schema: SCHEMA,
    title: { text: o.title, ...(o.subtitle ? { subtitle: o.subtitle } : {}), anchor: "start", fontSize: 15 },
    hconcat: o.panels.map((p, i) => heatmapPanelSpec(p, o.axes, `panel${i}`, { yTitle: i === 0, legend: "bottom" })),
    spacing: 18,
    resolve: { scale: { color: "independent", opacity: "independent", x: "shared", y: "shared" }, legend: { color: "independent", opacity: "independent" } },
    config: { ...CONFIG, view: { stroke: null } },
  });
}

export interface LinePoint {
  x: number;
  y: number;
  series: string;
  spread?: number;
}

const LINE_PANEL = { width: 360, height: 220 };

/**
 * [min, max] of the finite values, widened by `frac` of its span on each side (in log space
 * when `log`, where only positive values count), so no point or error bar sits on the frame.
 */
export function paddedDomain(values: number[], o: { frac?: number; log?: boolean } = {}): [number, number] | undefined {
  const f = o.frac ?? 0.05;
  const xs = values.filter((v) => Number.isFinite(v) && (!o.log || v > 0)).map((v) => (o.log ? Math.log10(v) : v));
  if (!xs.length) return undefined;
  const lo = Math.min(...xs),
    hi = Math.max(...xs);
  const pad = f * (hi > lo ? hi - lo : Math.abs(hi) || 1);
  const back = (v: number) => (o.log ? 10 ** v : v);
  return [back(lo - pad), back(hi + pad)];
}

/**
 * Lines with points: y against x, one colour per series; error bars when `spread` is given.
 * `baseline`: a dashed horizontal reference line in every panel, labelled at its right end.
 * `panels`: side by side, each with the series it names and its own y scale (x and colours
 * shared), so series on very different y ranges do not flatten each other; absent: one panel.
 */
export async function lineChartSvg(o: {
  title: string;
  xTitle: string;
  yTitle: string;
  points: LinePoint[];
  logY?: boolean;
  /** What the colour encodes (the legend's title). */
  seriesTitle?: string;
  baseline?: { y: number; label: string };
  panels?: { title: string; series: string[] }[];
}): Promise<string> {
  const seriesDomain = [...new Set(o.points.map((p) => p.series))].sort();
  const color = { field: "series", type: "nominal" as const, title: o.seriesTitle ?? "series", scale: { domain: seriesDomain } };
  // Explicit domains: x shared by the panels, y per panel; both padded past every point, error bar and baseline.
  const xDomain = paddedDomain(o.points.map((p) => p.x));
  const xScale = { zero: false, nice: false, ...(xDomain ? { domain: xDomain } : {}) };
  const panel = (points: LinePoint[], yTitle: string | null, title?: string): SubSpec => {
    const values = points.map((p) => ({ ...p, lo: p.y - (p.spread ?? 0), hi: p.y + (p.spread ?? 0) }));
    const base = o.baseline && Number.isFinite(o.baseline.y) ? [o.baseline] : [];
    const yDomain = paddedDomain([...values.flatMap((v) => [v.lo, v.hi, v.y]), ...base.map((b) => b.y)], { log: o.logY });
    const yScale = { zero: false, nice: true, ...(o.logY ? { type: "log" as const } : {}), ...(yDomain ? { domain: yDomain } : {}) };
    return {
      ...(title ? { title } : {}),
      ...LINE_PANEL,
      layer: [
        {
          data: { values },
          mark: { type: "line", point: true },
          encoding: {
            x: { field: "x", type: "quantitative", title: o.xTitle, axis: { format: "%" }, scale: xScale },
            y: { field: "y", type: "quantitative", title: yTitle, scale: yScale },
            color,
          },
        },
        {
          data: { values },
          mark: "rule",
          encoding: {
            x: { field: "x", type: "quantitative", scale: xScale },
            y: { field: "lo", type: "quantitative", scale: yScale },
            y2: { field: "hi" },
            color,
          },
        },
        ...base.flatMap((b) => [
          {
            data: { values: [b] },
            mark: { type: "rule" as const, color: "#555555", strokeDash: [5, 4] },
            encoding: { y: { field: "y", type: "quantitative" as const } },
          },
          {
            data: { values: [b] },
            mark: {
              type: "text" as const,
              x: "width" as const,
              align: "right" as const,
              baseline: "bottom" as const,
              dx: -3,
              dy: -3,
              color: "#555555",
              fontSize: 11,
            },
            encoding: { y: { field: "y", type: "quantitative" as const }, text: { field: "label", type: "nominal" as const } },
          },
        ]),
      ],
    };
  };
  if (!o.panels?.length) return renderSvg({ $schema: SCHEMA, ...panel(o.points, o.yTitle), title: o.title, config: CONFIG } as vl.TopLevelSpec);
  return renderSvg({
    $schema: SCHEMA,
    title: { text: o.title, anchor: "start", fontSize: 15 },
    hconcat: o.panels.map((p, i) =>
      panel(
        o.points.filter((x) => p.series.includes(x.series)),
        i === 0 ? o.yTitle : null,
        p.title,
      ),
    ),
    spacing: 24,
    resolve: { scale: { y: "independent", x: "shared", color: "shared" } },
    config: CONFIG,
  });
}

/**
 * Measured speedup against theoretical speedup: colour = series (the kind of pruning), shape =
 * batch size (legend in numeric order), one line per series and batch. Reference lines: y = x
 * (speedup as the FLOP count predicts) and y = 1 (no speedup), each labelled in the plot.
 */
export async function speedupScatterSvg(o: {
  title: string;
  points: { x: number; y: number; series: string; batch: number }[];
  seriesTitle?: string;
}): Promise<string> {
  const max = Math.max(1.5, ...o.points.map((p) => Math.max(p.x, p.y))) * 1.05;
  const batches = [...new Set(o.points.map((p) => p.batch))].sort((a, b) => a - b);
  const series = [...new Set(o.points.map((p) => p.series))].sort();
  // Exact domains (no nice rounding): the y = x line then ends in the plot's corner, and its label's angle below is the line's.
  const x = { field: "x", type: "quantitative" as const, title: "theoretical speedup (dense MACs / remaining MACs)", scale: { domain: [1, max], nice: false } };
  const y = { field: "y", type: "quantitative" as const, title: "measured speedup vs dense", scale: { domain: [0, max], nice: false } };
  const color = { field: "series", type: "nominal" as const, title: o.seriesTitle ?? "pruning", scale: { domain: series }, legend: { labelLimit: 400 } };
  const shape = { field: "batch", type: "nominal" as const, title: "batch size", scale: { domain: batches }, sort: batches };
  const width = 380,
    height = 260;
  const label = 1 + 0.86 * (max - 1);
  // The y = x line's angle on screen (x spans [1, max], y [0, max]): its label is drawn along it.
  const angle = (-Math.atan(height / max / (width / (max - 1))) * 180) / Math.PI;
  const grey = "#888888";
  const spec: vl.TopLevelSpec = {
    $schema: SCHEMA,
    title: o.title,
    width,
    height,
    layer: [
      {
        data: {
          values: [
            { x: 1, y: 1 },
            { x: max, y: max },
          ],
        },
        mark: { type: "line", strokeDash: [4, 4], color: grey },
        encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" } },
      },
      {
        data: { values: [{ x: label, y: label, text: "y = x" }] },
        mark: { type: "text", align: "center", baseline: "bottom", angle: +angle.toFixed(2), dy: -4, color: "#555555", fontSize: 11 },
        encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" }, text: { field: "text", type: "nominal" } },
      },
      { data: { values: [{ y: 1 }] }, mark: { type: "rule", color: "#bbbbbb" }, encoding: { y: { field: "y", type: "quantitative" } } },
      {
        data: { values: [{ y: 1, text: "y = 1: no speedup" }] },
        mark: { type: "text", x: "width", align: "right", baseline: "top", dx: -3, dy: 3, color: "#555555", fontSize: 11 },
        encoding: { y: { field: "y", type: "quantitative" }, text: { field: "text", type: "nominal" } },
      },
      {
        data: { values: o.points },
        mark: { type: "line", strokeWidth: 1.5, opacity: 0.7 },
        encoding: { x, y, color, detail: { field: "batch", type: "ordinal" } },
      },
      {
        data: { values: o.points },
        mark: { type: "point", filled: true, size: 60, opacity: 0.9 },
        encoding: { x, y, color, shape },
      },
    ],
    config: CONFIG,
  };
  return renderSvg(spec);
}

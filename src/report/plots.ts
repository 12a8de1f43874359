import * as vega from "vega";
import * as vl from "vega-lite";

export interface HeatmapCell {
  x: string;
  y: string;
  value: number | null;
  label: string;
}

/**
 * A phase-diagram panel as SVG: categorical x (load) and y (temperature), colour by
 * value (or by category when `nominal`), each cell labelled with its value.
 * Rendered headless by Vega; deterministic for the same input.
 */
export async function heatmapSvg(o: {
  title: string;
  cells: HeatmapCell[];
  xTitle: string;
  yTitle: string;
  xOrder: string[];
  yOrder: string[];
  scheme?: string;
  reverse?: boolean;
  domainMid?: number;
  nominal?: { domain: string[]; range: string[] };
}): Promise<string> {
  const color = o.nominal
    ? { field: "label", type: "nominal" as const, scale: { domain: o.nominal.domain, range: o.nominal.range }, legend: { title: null } }
    : {
        field: "value",
        type: "quantitative" as const,
        scale: { scheme: o.scheme ?? "viridis", reverse: o.reverse ?? false, ...(o.domainMid !== undefined ? { domainMid: o.domainMid } : {}) },
        legend: { title: null },
      };
  const spec: vl.TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: o.title,
    data: { values: o.cells.filter((c) => c.value !== null || o.nominal) },
    width: 40 * o.xOrder.length,
    height: 32 * o.yOrder.length,
    encoding: {
      x: { field: "x", type: "ordinal", sort: o.xOrder, title: o.xTitle, axis: { labelAngle: 0 } },
      y: { field: "y", type: "ordinal", sort: o.yOrder, title: o.yTitle },
    },
    layer: [
      { mark: "rect", encoding: { color } },
      { mark: { type: "text", fontSize: 9 }, encoding: { text: { field: "label", type: "nominal" }, color: { value: "black" } } },
    ],
    config: { background: "white", view: { stroke: null } },
  };
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" });
  return view.toSVG();
}

/** Lines with points: y against x, one colour per series; error bars when `spread` is given. */
export async function lineChartSvg(o: {
  title: string;
  xTitle: string;
  yTitle: string;
  points: { x: number; y: number; series: string; spread?: number }[];
  logY?: boolean;
}): Promise<string> {
  const spec: vl.TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: o.title,
    width: 360,
    height: 220,
    data: { values: o.points.map((p) => ({ ...p, lo: p.y - (p.spread ?? 0), hi: p.y + (p.spread ?? 0) })) },
    encoding: { x: { field: "x", type: "quantitative", title: o.xTitle, axis: { format: "%" } }, color: { field: "series", type: "nominal", title: null } },
    layer: [
      {
        mark: { type: "line", point: true },
        encoding: { y: { field: "y", type: "quantitative", title: o.yTitle, scale: { zero: false, ...(o.logY ? { type: "log" as const } : {}) } } },
      },
      { mark: "rule", encoding: { y: { field: "lo", type: "quantitative" }, y2: { field: "hi" } } },
    ],
    config: { background: "white" },
  };
  return new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" }).toSVG();
}

/**
 * Measured speedup against theoretical speedup, one colour per series, with the
 * y = x line (speedup as the FLOP count predicts) and y = 1 (no speedup) for reference.
 */
export async function speedupScatterSvg(o: { title: string; points: { x: number; y: number; series: string }[] }): Promise<string> {
  const max = Math.max(1.5, ...o.points.map((p) => Math.max(p.x, p.y))) * 1.05;
  const spec: vl.TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: o.title,
    width: 380,
    height: 260,
    layer: [
      {
        data: {
          values: [
            { x: 1, y: 1 },
            { x: max, y: max },
          ],
        },
        mark: { type: "line", strokeDash: [4, 4], color: "#888" },
        encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" } },
      },
      { data: { values: [{ y: 1 }] }, mark: { type: "rule", color: "#bbb" }, encoding: { y: { field: "y", type: "quantitative" } } },
      {
        data: { values: o.points },
        mark: { type: "line", point: true },
        encoding: {
          x: { field: "x", type: "quantitative", title: "theoretical speedup (dense MACs / remaining MACs; dashed: y = x)", scale: { domain: [1, max] } },
          y: { field: "y", type: "quantitative", title: "measured speedup vs dense", scale: { domain: [0, max] } },
          color: { field: "series", type: "nominal", title: null, legend: { labelLimit: 400 } },
        },
      },
    ],
    config: { background: "white" },
  };
  return new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" }).toSVG();
}

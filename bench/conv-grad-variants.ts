#!/usr/bin/env bun
/**
 * Microbenchmark of ONNX formulations of the conv filter gradient (3x3, stride 1, pad 1),
 * the largest cost in a training step, timed with mitata. Each gradient formulation is
 * checked against the first variant run (the reference) before it is timed; the cost
 * probes (parts of a formulation, the forward conv) are timed only. Exits 1 when a
 * formulation disagrees with the reference. `--help` lists the flags.
 */
import { withVersion } from "../src/cli/common.ts";
import { Command } from "commander";
import { intArg, positiveArg, regexArg } from "../src/cli/arg-parsers.ts";
import { bench, do_not_optimize, run, summary } from "mitata";
import { availableParallelism } from "node:os";
import * as ort from "onnxruntime-node";
import { GraphBuilder } from "../src/engine/onnx/graph-builder.ts";
import { checkAgainst, cpuSession, exitIfDisagree, timingLine, type Check } from "./variant-check.ts";
import { blockedConv, nchwcBlockSize } from "../src/engine/onnx/ops/nchwc.ts";

const o = withVersion(new Command("conv-grad-variants"))
  .description("microbenchmark of ONNX formulations of the 3x3 conv filter gradient on the CPU EP (timed with mitata)")
  .option("--batch <n>", "batch size", intArg(1), 128)
  .option("--c <n>", "channels in and out", intArg(1), 16)
  .option("--hw <n>", "input height and width", intArg(3), 32)
  .option("--threads <n>", "intra-op threads", intArg(1), availableParallelism())
  .option("--filter <regex>", "only the variants whose name matches (the first of them is the reference)", regexArg)
  .option("--tolerance <x>", "largest max relative difference from the reference a formulation may show", positiveArg, 1e-3)
  .showHelpAfterError("(run with --help for usage)")
  // Usage errors exit 2 like every other command; --help exits 0.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
  .parse()
  .opts<{ batch: number; c: number; hw: number; threads: number; filter?: RegExp; tolerance: number }>();
const N = o.batch,
  C = o.c,
  O = o.c,
  H = o.hw,
  W = o.hw;
const block = await nchwcBlockSize();

type Build = (g: GraphBuilder, x: string, dy: string) => string;

const variants: Record<string, Build> = {
  "pad + 9 slices + concat + batched MatMul": (g, x, dy) => {
    const xp = g.op1("Pad", [x, g.constInt64([0, 0, 1, 1, 0, 0, 1, 1])]);
    const sl: string[] = [];
    for (let kh = 0; kh < 3; kh++)
      for (let kw = 0; kw < 3; kw++)
        sl.push(g.op1("Unsqueeze", [g.op1("Slice", [xp, g.constInt64([kh, kw]), g.constInt64([kh + H, kw + W]), g.constInt64([2, 3])]), g.constInt64([2])]));
    const p = g.op1("Reshape", [g.op1("Concat", sl, { axis: 2 }), g.constInt64([0, C * 9, H * W])]);
    const dyt = g.op1("Transpose", [g.op1("Reshape", [dy, g.constInt64([0, O, H * W])])], { perm: [0, 2, 1] });
    const r = g.op1("ReduceSum", [g.op1("MatMul", [p, dyt]), g.constInt64([0])], { keepdims: 0 });
    return g.op1("Reshape", [g.op1("Transpose", [r], { perm: [1, 0] }), g.constInt64([O, C, 3, 3])]);
  },
  "one-hot depthwise Conv im2col + batched MatMul": (g, x, dy) => {
    const e = new Array(C * 9 * 9).fill(0);
    for (let c = 0; c < C; c++) for (let k = 0; k < 9; k++) e[(c * 9 + k) * 9 + k] = 1;
    const p = g.op1("Reshape", [
      g.op1("Conv", [x, g.constFloat(e, [C * 9, 1, 3, 3])], { group: C, pads: [1, 1, 1, 1], kernel_shape: [3, 3] }),
      g.constInt64([0, C * 9, H * W]),
    ]);
    const dyt = g.op1("Transpose", [g.op1("Reshape", [dy, g.constInt64([0, O, H * W])])], { perm: [0, 2, 1] });
    const r = g.op1("ReduceSum", [g.op1("MatMul", [p, dyt]), g.constInt64([0])], { keepdims: 0 });
    return g.op1("Reshape", [g.op1("Transpose", [r], { perm: [1, 0] }), g.constInt64([O, C, 3, 3])]);
  },
  "one-hot depthwise Conv im2col + batched MatMul(dY, P^T)": (g, x, dy) => {
    const e = new Array(C * 9 * 9).fill(0);
    for (let c = 0; c < C; c++) for (let k = 0; k < 9; k++) e[(c * 9 + k) * 9 + k] = 1;
    const p = g.op1("Reshape", [
      g.op1("Conv", [x, g.constFloat(e, [C * 9, 1, 3, 3])], { group: C, pads: [1, 1, 1, 1], kernel_shape: [3, 3] }),
      g.constInt64([0, C * 9, H * W]),
    ]);
    const pt = g.op1("Transpose", [p], { perm: [0, 2, 1] });
    const r = g.op1("ReduceSum", [g.op1("MatMul", [g.op1("Reshape", [dy, g.constInt64([0, O, H * W])]), pt]), g.constInt64([0])], { keepdims: 0 });
    return g.op1("Reshape", [r, g.constInt64([O, C, 3, 3])]);
  },
  "batched MatMul only (P given), P @ dY^T": (g, x, dy) => {
    const p = g.op1("Tile", [g.op1("Reshape", [x, g.constInt64([0, C, H * W])]), g.constInt64([1, 9, 1])]);
    const dyt = g.op1("Transpose", [g.op1("Reshape", [dy, g.constInt64([0, O, H * W])])], { perm: [0, 2, 1] });
    return g.op1("ReduceSum", [g.op1("MatMul", [p, dyt]), g.constInt64([0])], { keepdims: 0 });
  },
  "batched MatMul only (P given), dY @ P^T": (g, x, dy) => {
    const p = g.op1("Tile", [g.op1("Reshape", [x, g.constInt64([0, C, H * W])]), g.constInt64([1, 9, 1])]);
    return g.op1(
      "ReduceSum",
      [g.op1("MatMul", [g.op1("Reshape", [dy, g.constInt64([0, O, H * W])]), g.op1("Transpose", [p], { perm: [0, 2, 1] })]), g.constInt64([0])],
      { keepdims: 0 },
    );
  },
  "Tile only (cost of making P for the two above)": (g, x) => {
    const p = g.op1("Tile", [g.op1("Reshape", [x, g.constInt64([0, C, H * W])]), g.constInt64([1, 9, 1])]);
    return g.op1("ReduceSum", [p, g.constInt64([0, 2])], { keepdims: 0 });
  },
  "one-hot Conv on [N*C,1,H,W] im2col + batched MatMul": (g, x, dy) => {
    const e = new Array(9 * 9).fill(0);
    for (let k = 0; k < 9; k++) e[k * 9 + k] = 1;
    const x1 = g.op1("Reshape", [x, g.constInt64([-1, 1, H, W])]);
    const p = g.op1("Reshape", [
      g.op1("Conv", [x1, g.constFloat(e, [9, 1, 3, 3])], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] }),
      g.constInt64([-1, C * 9, H * W]),
    ]);
    const dyt = g.op1("Transpose", [g.op1("Reshape", [dy, g.constInt64([0, O, H * W])])], { perm: [0, 2, 1] });
    const r = g.op1("ReduceSum", [g.op1("MatMul", [p, dyt]), g.constInt64([0])], { keepdims: 0 });
    return g.op1("Reshape", [g.op1("Transpose", [r], { perm: [1, 0] }), g.constInt64([O, C, 3, 3])]);
  },
  "im2col only (one-hot depthwise Conv)": (g, x) => {
    const e = new Array(C * 9 * 9).fill(0);
    for (let c = 0; c < C; c++) for (let k = 0; k < 9; k++) e[(c * 9 + k) * 9 + k] = 1;
    const p = g.op1("Conv", [x, g.constFloat(e, [C * 9, 1, 3, 3])], { group: C, pads: [1, 1, 1, 1], kernel_shape: [3, 3] });
    return g.op1("ReduceSum", [p, g.constInt64([0, 2, 3])], { keepdims: 0 });
  },
  "im2col only (one-hot Conv on [N*C,1,H,W])": (g, x) => {
    const e = new Array(9 * 9).fill(0);
    for (let k = 0; k < 9; k++) e[k * 9 + k] = 1;
    const p = g.op1("Conv", [g.op1("Reshape", [x, g.constInt64([-1, 1, H, W])]), g.constFloat(e, [9, 1, 3, 3])], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] });
    return g.op1("ReduceSum", [p, g.constInt64([0, 2, 3])], { keepdims: 0 });
  },
  "forward Conv (reference cost)": (g, x) => {
    const w = g.constFloat(new Array(O * C * 9).fill(0.01), [O, C, 3, 3]);
    return g.op1("ReduceSum", [g.op1("Conv", [x, w], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] }), g.constInt64([0, 2, 3])], { keepdims: 0 });
  },
  "NCHWc Conv with the batch as channels and dY as the filter (static batch)": (g, x, dy) => {
    const xt = g.op1("Transpose", [x], { perm: [1, 0, 2, 3] });
    const dyt = g.op1("Transpose", [dy], { perm: [1, 0, 2, 3] });
    const out = blockedConv(g, { x: xt, w: dyt, cin: N, cout: O, kernel: H, stride: 1, pad: 1, block, hint: "dw" }); // [C, O, 3, 3]
    return g.op1("Transpose", [out], { perm: [1, 0, 2, 3] });
  },
  "plain Conv with the batch as channels and dY as the filter": (g, x, dy) => {
    const xt = g.op1("Transpose", [x], { perm: [1, 0, 2, 3] });
    const dyt = g.op1("Transpose", [dy], { perm: [1, 0, 2, 3] });
    return g.op1("Transpose", [g.op1("Conv", [xt, dyt], { pads: [1, 1, 1, 1], kernel_shape: [H, W] })], { perm: [1, 0, 2, 3] });
  },
  "one-hot Convs: 3 width shifts of X x 3 row shifts of dY, one batched MatMul": (g, x, dy) => {
    // P3[n, c*3+kw, i, j] = Xpad[n, c, i, j + kw] for i in [0, H+2): kernel 1x3 one-hot, pads rows and columns by 1.
    const ex = new Array(C * 3 * 3).fill(0);
    for (let c = 0; c < C; c++) for (let kw = 0; kw < 3; kw++) ex[(c * 3 + kw) * 3 + kw] = 1;
    const p3 = g.op1("Reshape", [
      g.op1("Conv", [x, g.constFloat(ex, [C * 3, 1, 1, 3])], { group: C, pads: [1, 1, 1, 1], kernel_shape: [1, 3] }),
      g.constInt64([0, C * 3, (H + 2) * W]),
    ]);
    // D[n, o*3+kh, i, j] = dY[n, o, i - kh, j] in an (H+2)-row frame: kernel 3x1 one-hot at row 2-kh, 2 zero rows padded on each side.
    const ed = new Array(O * 3 * 3).fill(0);
    for (let o = 0; o < O; o++) for (let kh = 0; kh < 3; kh++) ed[(o * 3 + kh) * 3 + (2 - kh)] = 1;
    const d = g.op1("Reshape", [
      g.op1("Conv", [dy, g.constFloat(ed, [O * 3, 1, 3, 1])], { group: O, pads: [2, 0, 2, 0], kernel_shape: [3, 1] }),
      g.constInt64([0, O * 3, (H + 2) * W]),
    ]);
    const r = g.op1("ReduceSum", [g.op1("MatMul", [p3, g.op1("Transpose", [d], { perm: [0, 2, 1] })]), g.constInt64([0])], { keepdims: 0 }); // [(c,kw), (o,kh)]
    return g.op1("Transpose", [g.op1("Reshape", [r, g.constInt64([C, 3, O, 3])])], { perm: [2, 0, 3, 1] });
  },
  "3 width shifts x 3 row-shifted dY, one batched MatMul": (g, x, dy) => {
    // P3[n, c*3+kw, j] = Xpad[n, c, j / W, j % W + kw] over the H-padded rows; D[n, kh*O+o, j] = dY shifted down kh rows.
    const xp = g.op1("Pad", [x, g.constInt64([0, 0, 1, 1, 0, 0, 1, 1])]);
    const sl: string[] = [];
    for (let kw = 0; kw < 3; kw++)
      sl.push(g.op1("Unsqueeze", [g.op1("Slice", [xp, g.constInt64([kw]), g.constInt64([kw + W]), g.constInt64([3])]), g.constInt64([2])]));
    const p3 = g.op1("Reshape", [g.op1("Concat", sl, { axis: 2 }), g.constInt64([0, C * 3, (H + 2) * W])]);
    const ds: string[] = [];
    for (let kh = 0; kh < 3; kh++) ds.push(g.op1("Pad", [dy, g.constInt64([0, 0, kh, 0, 0, 0, 2 - kh, 0])]));
    const d = g.op1("Reshape", [g.op1("Concat", ds, { axis: 1 }), g.constInt64([0, 3 * O, (H + 2) * W])]);
    const r = g.op1("ReduceSum", [g.op1("MatMul", [p3, g.op1("Transpose", [d], { perm: [0, 2, 1] })]), g.constInt64([0])], { keepdims: 0 }); // [3C (c,kw), 3O (kh,o)]
    return g.op1("Transpose", [g.op1("Reshape", [r, g.constInt64([C, 3, 3, O])])], { perm: [3, 0, 2, 1] });
  },
  "channel-major Gemm over N*H*W": (g, x, dy) => {
    const xp = g.op1("Pad", [x, g.constInt64([0, 0, 1, 1, 0, 0, 1, 1])]);
    const sl: string[] = [];
    for (let kh = 0; kh < 3; kh++)
      for (let kw = 0; kw < 3; kw++)
        sl.push(g.op1("Unsqueeze", [g.op1("Slice", [xp, g.constInt64([kh, kw]), g.constInt64([kh + H, kw + W]), g.constInt64([2, 3])]), g.constInt64([2])]));
    const p = g.op1("Reshape", [g.op1("Transpose", [g.op1("Concat", sl, { axis: 2 })], { perm: [1, 2, 0, 3, 4] }), g.constInt64([C * 9, -1])]);
    const dym = g.op1("Reshape", [g.op1("Transpose", [dy], { perm: [1, 0, 2, 3] }), g.constInt64([O, -1])]);
    return g.op1("Reshape", [g.op1("Gemm", [dym, p], { transB: 1 }), g.constInt64([O, C, 3, 3])]);
  },
};

/** Cost probes: parts of a formulation or the forward conv, whose outputs are not the gradient. */
const probes = new Set([
  "batched MatMul only (P given), P @ dY^T",
  "batched MatMul only (P given), dY @ P^T",
  "Tile only (cost of making P for the two above)",
  "im2col only (one-hot depthwise Conv)",
  "im2col only (one-hot Conv on [N*C,1,H,W])",
  "forward Conv (reference cost)",
]);
for (const p of probes) if (!(p in variants)) throw new Error(`probe "${p}" names no variant`);
const chosen = Object.entries(variants).filter(([name]) => !o.filter || o.filter.test(name));
if (!chosen.length) {
  console.error(`error: --filter ${o.filter} matches none of the ${Object.keys(variants).length} variants`);
  process.exit(2);
}

const x = new ort.Tensor(
  "float32",
  new Float32Array(N * C * H * W).map(() => Math.random() - 0.5),
  [N, C, H, W],
);
const dy = new ort.Tensor(
  "float32",
  new Float32Array(N * O * H * W).map(() => Math.random() - 0.5),
  [N, O, H, W],
);
console.log(`conv filter gradient 3x3 stride 1 pad 1, ${C}->${O} channels, ${H}x${W}, batch ${N}, ${o.threads} thread(s); timed by mitata`);

/** Per variant: what its check found, and whether it fails it. */
const checks = new Map<string, Check>();
let ref: { name: string; out: Float32Array } | undefined;
summary(() => {
  const first = chosen.find(([name]) => !probes.has(name))?.[0];
  for (const [name, build] of chosen) {
    // mitata runs the generator when this variant's turn comes: one session is open at a time.
    const b = bench(name, async function* () {
      const g = new GraphBuilder();
      g.input("x", ["N", C, H, W]);
      g.input("dy", ["N", O, H, W]);
      g.alias(build(g, "x", "dy"), "dw");
      g.output("dw");
      const s = await cpuSession(g.toModel(name), o.threads);
      // The correctness check, before timing: the first formulation run is the reference.
      const out = (await s.run({ x, dy })).dw!.data as Float32Array;
      if (probes.has(name)) checks.set(name, { verdict: "(timing only)", fails: false });
      else {
        ref ??= { name, out };
        checks.set(name, checkAgainst(out, ref.out, o.tolerance));
      }
      yield async () => do_not_optimize(await s.run({ x, dy }));
      await s.release();
    });
    // mitata's summary then compares every variant with the reference.
    if (name === first) b.baseline();
  }
});
const { benchmarks } = await run({ throw: true, colors: Boolean(process.stdout.isTTY), format: { mitata: { name: "longest" } } });

console.log(
  `\nper call (from mitata's samples), and each formulation's max relative difference from ${ref ? `the reference (${ref.name})` : "a reference (--filter chose no formulation)"}:`,
);
const width = Math.max(...chosen.map(([name]) => name.length));
const bad: string[] = [];
chosen.forEach(([name], i) => {
  const stats = benchmarks[i]!.runs[0]!.stats!;
  const check = checks.get(name)!;
  if (check.fails) bad.push(`${name}: ${check.verdict}`);
  console.log(timingLine(name, width, stats, check));
});
exitIfDisagree(bad, o.tolerance, "formulation");

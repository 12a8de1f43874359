#!/usr/bin/env bun
/**
 * Microbenchmark of ONNX formulations of the input gradient of a stride-2 conv
 * (3x3 pad 1 and 1x1 pad 0), timed with mitata. Each variant is checked against the
 * first one run for its kernel size (the reference) before it is timed; exits 1 when one
 * disagrees. `--help` lists the flags.
 */
import { withVersion } from "../src/cli/common.ts";
import { Command } from "commander";
import { intArg, positiveArg, regexArg } from "../src/cli/arg-parsers.ts";
import { bench, do_not_optimize, group, run, summary } from "mitata";
import { availableParallelism } from "node:os";
import * as ort from "onnxruntime-node";
import { GraphBuilder } from "../src/engine/onnx/graph-builder.ts";
import { checkAgainst, cpuSession, exitIfDisagree, timingLine, type Check } from "./variant-check.ts";
import { zeroInterleave } from "../src/engine/onnx/ops/conv.ts";

const o = withVersion(new Command("strided-input-grad-variants"))
  .description("microbenchmark of ONNX formulations of a stride-2 conv's input gradient on the CPU EP (timed with mitata)")
  .option("--batch <n>", "batch size", intArg(1), 128)
  .option("--cin <n>", "input channels (the conv doubles them)", intArg(1), 16)
  .option("--hw <n>", "input height and width (even)", intArg(2, { even: true }), 32)
  .option("--threads <n>", "intra-op threads", intArg(1), availableParallelism())
  .option("--filter <regex>", "only the variants whose name matches (the first of them is the reference)", regexArg)
  .option("--tolerance <x>", "largest max relative difference from the reference a variant may show", positiveArg, 1e-3)
  .showHelpAfterError("(run with --help for usage)")
  // Usage errors exit 2 like every other command; --help exits 0.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
  .parse()
  .opts<{ batch: number; cin: number; hw: number; threads: number; filter?: RegExp; tolerance: number }>();
const N = o.batch,
  C = o.cin,
  O = 2 * C,
  H = o.hw,
  Ho = H / 2;

function flipT(g: GraphBuilder, w: string, k: number): string {
  const t = g.op1("Transpose", [w], { perm: [1, 0, 2, 3] });
  return k === 1 ? t : g.op1("Slice", [t, g.constInt64([-1, -1]), g.constInt64([-k - 1, -k - 1]), g.constInt64([2, 3]), g.constInt64([-1, -1])]);
}

function interleaveConcat(g: GraphBuilder, dy: string): string {
  const zeros = g.op1("Expand", [g.constFloat([0], []), g.op1("Shape", [g.op1("Unsqueeze", [dy, g.constInt64([4])])])]);
  const w2 = g.op1("Reshape", [g.op1("Concat", [g.op1("Unsqueeze", [dy, g.constInt64([4])]), zeros], { axis: 4 }), g.constInt64([0, O, Ho, 2 * Ho])]);
  const zeros2 = g.op1("Expand", [g.constFloat([0], []), g.op1("Shape", [g.op1("Unsqueeze", [w2, g.constInt64([3])])])]);
  return g.op1("Reshape", [g.op1("Concat", [g.op1("Unsqueeze", [w2, g.constInt64([3])]), zeros2], { axis: 3 }), g.constInt64([0, O, H, H])]);
}

function interleaveConvT(g: GraphBuilder, dy: string): string {
  return g.op1("ConvTranspose", [dy, g.constFloat(new Array(O).fill(1), [O, 1, 1, 1])], {
    group: O,
    strides: [2, 2],
    kernel_shape: [1, 1],
    output_padding: [1, 1],
  });
}

type Variant = (g: GraphBuilder) => string;
function variantsFor(k: number): Record<string, Variant> {
  const pad = (k - 1) / 2;
  const back = k - 1 - pad;
  return {
    "6-D Pad interleave + Conv": (g) =>
      g.op1("Conv", [zeroInterleave(g, "dy", O, Ho, Ho, 2, H, H), flipT(g, "w", k)], { pads: [back, back, back, back], kernel_shape: [k, k] }),
    ConvTranspose: (g) => g.op1("ConvTranspose", ["dy", "w"], { strides: [2, 2], pads: [pad, pad, pad, pad], kernel_shape: [k, k], output_padding: [1, 1] }),
    "Concat interleave + Conv": (g) => g.op1("Conv", [interleaveConcat(g, "dy"), flipT(g, "w", k)], { pads: [back, back, back, back], kernel_shape: [k, k] }),
    "depthwise ConvTranspose interleave + Conv": (g) =>
      g.op1("Conv", [interleaveConvT(g, "dy"), flipT(g, "w", k)], { pads: [back, back, back, back], kernel_shape: [k, k] }),
  };
}

const cases = [3, 1].map((k) => ({
  k,
  title: `stride-2 ${k}x${k} conv ${C}->${O}, input ${H}x${H}, batch ${N}`,
  chosen: Object.entries(variantsFor(k)).filter(([name]) => !o.filter || o.filter.test(name)),
}));
if (!cases[0]!.chosen.length) {
  console.error(`error: --filter ${o.filter} matches none of the variants (${Object.keys(variantsFor(3)).join(", ")})`);
  process.exit(2);
}
console.log(`stride-2 conv input gradient, ${o.threads} thread(s); timed by mitata`);

/** Per kernel size and variant: what its check found, and whether it fails it. */
const checks = new Map<string, Check>();
const refs = new Map<number, string>();
for (const { k, title, chosen } of cases) {
  const dy = new ort.Tensor(
    "float32",
    new Float32Array(N * O * Ho * Ho).map(() => Math.random() - 0.5),
    [N, O, Ho, Ho],
  );
  const w = new ort.Tensor(
    "float32",
    new Float32Array(O * C * k * k).map(() => Math.random() - 0.5),
    [O, C, k, k],
  );
  let ref: Float32Array | undefined;
  group(title, () =>
    summary(() => {
      for (const [name, build] of chosen) {
        // mitata runs the generator when this variant's turn comes: one session is open at a time.
        const b = bench(name, async function* () {
          const g = new GraphBuilder();
          g.input("dy", ["N", O, Ho, Ho]);
          g.input("w", [O, C, k, k]);
          g.alias(build(g), "dx");
          g.output("dx", ["N", C, H, H]);
          const s = await cpuSession(g.toModel(name), o.threads);
          // The correctness check, before timing: the first variant run is the reference.
          const out = (await s.run({ dy, w })).dx!.data as Float32Array;
          if (!ref) refs.set(k, name);
          ref ??= out;
          checks.set(`${k}:${name}`, checkAgainst(out, ref, o.tolerance));
          yield async () => do_not_optimize(await s.run({ dy, w }));
          await s.release();
        });
        // mitata's summary then compares every variant with the reference.
        if (name === chosen[0]![0]) b.baseline();
      }
    }),
  );
}
const { benchmarks } = await run({ throw: true, colors: Boolean(process.stdout.isTTY), format: { mitata: { name: "longest" } } });

const width = Math.max(...cases.flatMap((c) => c.chosen.map(([name]) => name.length)));
const bad: string[] = [];
let i = 0;
for (const { k, title, chosen } of cases) {
  console.log(`\n${title}: per call (from mitata's samples), and max relative difference from the reference (${refs.get(k)})`);
  for (const [name] of chosen) {
    const stats = benchmarks[i++]!.runs[0]!.stats!;
    const check = checks.get(`${k}:${name}`)!;
    if (check.fails) bad.push(`${k}x${k} ${name}: ${check.verdict}`);
    console.log(`  ${timingLine(name, width, stats, check)}`);
  }
}
exitIfDisagree(bad, o.tolerance, "variant");

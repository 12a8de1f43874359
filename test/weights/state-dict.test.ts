import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTrainer, type EngineChoice } from "../../src/engine/registry.ts";
import { freshState } from "../../src/engine/state.ts";
import { probeTorch } from "../../src/engine/torch/detect.ts";
import type { ModelState, Tensors } from "../../src/engine/types.ts";
import { buildModel } from "../../src/models/registry.ts";
import { prunableLayers, type ModelSpec } from "../../src/models/spec.ts";
import { fromStateDict, StateDictMismatch, toStateDict } from "../../src/weights/state-dict.ts";
import { readStateDict, writeStateDict, type PtTensor } from "../../src/weights/torch-pt.ts";
import { Rng } from "../../src/util/rng.ts";
import { optim } from "../helpers/tiny-models.ts";
import { torchReference } from "../helpers/torch-reference.ts";

setDefaultTimeout(120_000);

/**
 * PyTorch state_dicts out of and into the harness (src/weights): the file format against
 * PyTorch itself, the names against the reference code of each architecture
 * (test/fixtures/torch_reference_models.py: the three-regime PreResNet, akamaster's
 * option-A/B ResNets), and the logits through every engine after a round trip.
 */
const dir = mkdtempSync(join(tmpdir(), "state-dict-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const probe = await probeTorch();
const python = "found" in probe ? probe.found.python : null;
const CLASSES = 5;

/** A model's state as training leaves it: weights, BN statistics away from their start, a random mask per conv. */
function trained(spec: ModelSpec, seed: number): { state: ModelState; masks: Tensors } {
  const state = freshState(spec, seed);
  const rng = new Rng(seed, "trained");
  for (const b of spec.buffers) {
    const v = state.buffers[b.name]!;
    for (let i = 0; i < v.length; i++) v[i] = b.role === "bn-var" ? 0.5 + rng.next() : b.role === "bn-mean" ? 0.2 * (rng.next() - 0.5) : v[i]!;
  }
  for (const p of spec.params) if (p.role === "bn-gamma") state.params[p.name] = state.params[p.name]!.map(() => 0.5 + rng.next());
  const masks: Tensors = {};
  for (const l of prunableLayers(spec)) masks[l.name] = state.params[l.name]!.map(() => (rng.next() < 0.3 ? 0 : 1));
  return { state, masks };
}

function images(spec: ModelSpec, n: number): Float32Array {
  const rng = new Rng(7, "x");
  return Float32Array.from({ length: n * spec.inputShape.reduce((a, b) => a * b, 1) }, () => rng.normal());
}

async function logits(choice: EngineChoice, spec: ModelSpec, s: { state: ModelState; masks: Tensors }, x: Float32Array, n: number): Promise<Float32Array> {
  const t = await createTrainer(choice, { spec, ...optim, threads: 1 }, s.state);
  try {
    for (const [k, m] of Object.entries(s.masks)) t.masks[k] = m;
    return await t.predict(x, n);
  } finally {
    await t.dispose();
  }
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe("state_dict round trip", () => {
  const spec = buildModel("preresnet20", { width: 4, inputShape: [3, 8, 8], numClasses: CLASSES, depth: 14 });
  const engines: [string, EngineChoice, boolean][] = [
    ["onnx", { engine: "onnx", provider: "cpu" }, false],
    ["tfjs", { engine: "tfjs", tfjsBackend: "cpu" }, false],
    ["torch", { engine: "torch", device: "cpu", python: python ?? undefined }, !python],
  ];
  test.each(engines)("%s: export, import, the same logits bit for bit; masked weights exactly zero; every BN with its counter", async (_name, choice, skip) => {
    if (skip) return;
    const s = trained(spec, 3);
    const x = images(spec, 4);
    const file = writeStateDict(toStateDict(spec, s.state, s.masks));
    const dict = readStateDict(file);
    expect(dict.get("layer1.0.bn1.num_batches_tracked")).toEqual({ dtype: "int64", shape: [], data: BigInt64Array.of(0n) });
    const conv = prunableLayers(spec)[1]!.name;
    const m = s.masks[conv]!;
    (dict.get(conv)!.data as Float32Array).forEach((v, i) => m[i] === 0 && expect(v).toBe(0));
    const back = fromStateDict(spec, dict);
    // Imported without masks: the zeros stand in for them.
    const want = await logits(choice, spec, s, x, 4);
    const got = await logits(choice, spec, { state: back.state, masks: {} }, x, 4);
    expect(maxDiff(got, want)).toBe(0);
  });

  test("a state_dict that does not fit is refused key by key, as load_state_dict(strict=True) would", () => {
    const entries = toStateDict(spec, trained(spec, 3).state);
    const dict = new Map<string, PtTensor>(entries);
    dict.delete("fc.bias");
    dict.set("fc.extra", dict.get("fc.weight")!);
    dict.set("conv1.weight", { dtype: "float32", shape: [4, 3, 5, 5], data: new Float32Array(300) });
    const err = (() => {
      try {
        fromStateDict(spec, dict);
      } catch (e) {
        return e as StateDictMismatch;
      }
    })()!;
    expect(err).toBeInstanceOf(StateDictMismatch);
    expect(err.missing).toEqual(["fc.bias"]);
    expect(err.unexpected).toEqual(["fc.extra"]);
    expect(err.wrongShape).toEqual(["conv1.weight [4, 3, 5, 5] for [4, 3, 3, 3]"]);
    expect(err.message).toBe("missing: fc.bias; not in the model: fc.extra; wrong shape: conv1.weight [4, 3, 5, 5] for [4, 3, 3, 3]");
  });
});

/** The reference script in this test's folder, with its classes. */
const reference = (mode: "load" | "save", family: string, depth: number, width: number, state: string, x: Float32Array, shape: number[], seed = 0) =>
  torchReference({ python: python!, dir, mode, family, depth, width, classes: CLASSES, state, x, shape, seed });

describe.skipIf(!python)("against the reference code in PyTorch", () => {
  const cases = [
    ["preresnet", "preresnet8", 8],
    ["preresnet", "preresnet14", 14],
    ["resnet-a", "resnet14a", 14],
    ["resnet-b", "resnet14b", 14],
  ] as const;

  test.each(cases)("%s depth %s: the exported .pt loads strictly into the reference model and gives the harness's logits", async (family, arch, depth) => {
    const spec = buildModel(arch, { width: 4, inputShape: [3, 8, 8], numClasses: CLASSES });
    const s = trained(spec, depth);
    const x = images(spec, 6);
    const file = join(dir, `${arch}.pt`);
    writeFileSync(file, writeStateDict(toStateDict(spec, s.state, s.masks)));
    const theirs = reference("load", family, depth, 4, file, x, [6, 3, 8, 8]);
    const ours = await logits({ engine: "onnx", provider: "cpu" }, spec, s, x, 6);
    expect(maxDiff(ours, theirs)).toBeLessThan(1e-4);
  });

  test.each(cases)(
    "%s depth %s: a reference model saved by PyTorch (DataParallel prefix, one conv pruned by torch.nn.utils.prune) imports with its mask and gives its logits",
    async (family, arch, depth) => {
      const spec = buildModel(arch, { width: 4, inputShape: [3, 8, 8], numClasses: CLASSES });
      const x = images(spec, 6);
      const file = join(dir, `${arch}-theirs.pt`);
      const theirs = reference("save", family, depth, 4, file, x, [6, 3, 8, 8], 11);
      const { state, masks } = fromStateDict(spec, readStateDict(readFileSync(file)));
      const pruned = family === "preresnet" ? "layer1.0.conv1.weight" : "layer1.0.conv1.weight";
      expect(Object.keys(masks)).toEqual([pruned]);
      expect(masks[pruned]!.reduce((a, b) => a + b, 0)).toBe(masks[pruned]!.length / 2);
      const ours = await logits({ engine: "onnx", provider: "cpu" }, spec, { state, masks }, x, 6);
      expect(maxDiff(ours, theirs)).toBeLessThan(1e-4);
    },
  );
});

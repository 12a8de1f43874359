/** Start weights from outside (src/weights/import.ts, src/config/start-weights.ts): every file format, the pinned hash, and a unit that trains from them. */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { zipSync } from "fflate";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import type { TrainingConfig } from "../../src/config/generated/training.ts";
import { ConfigError } from "../../src/config/load.ts";
import { loadPresetConfig } from "../../src/config/presets.ts";
import { pinStartWeights } from "../../src/config/start-weights.ts";
import { npyHeader } from "../../src/data/npy.ts";
import { freshState } from "../../src/engine/state.ts";
import { probeTorch } from "../../src/engine/torch/detect.ts";
import type { ModelState, Tensors } from "../../src/engine/types.ts";
import { buildModel } from "../../src/models/registry.ts";
import { prunableLayers, type ModelSpec } from "../../src/models/spec.ts";
import { exportInferenceModel } from "../../src/onnx/export.ts";
import { withSparseInitializers } from "../../src/onnx/sparse-initializers.ts";
import { applyMasks } from "../../src/prune/magnitude.ts";
import { loadCheckpoint } from "../../src/train/checkpoint.ts";
import { loadData, modelFor } from "../../src/train/setup.ts";
import { Rng } from "../../src/util/rng.ts";
import { readStartWeights, startWeightsOf } from "../../src/weights/import.ts";
import { fromStateDict, toStateDict } from "../../src/weights/state-dict.ts";
import { readStateDict, writeStateDict } from "../../src/weights/torch-pt.ts";
import { torchReference } from "../helpers/torch-reference.ts";

setDefaultTimeout(120_000);
const REPO = join(import.meta.dir, "../..");
const dir = mkdtempSync(join(tmpdir(), "start-weights-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const probe = await probeTorch();
const python = "found" in probe ? probe.found.python : null;

const spec = buildModel("preresnet20", { width: 4, inputShape: [3, 8, 8], numClasses: 5 });

/** Weights, BN statistics away from their start, and a mask on every conv. */
function trained(seed: number): { state: ModelState; masks: Tensors } {
  const state = freshState(spec, seed);
  const rng = new Rng(seed, "start-weights");
  for (const b of spec.buffers) if (b.role === "bn-var" || b.role === "bn-mean") state.buffers[b.name] = state.buffers[b.name]!.map(() => 0.5 + rng.next());
  const masks: Tensors = {};
  for (const l of prunableLayers(spec)) masks[l.name] = state.params[l.name]!.map(() => (rng.next() < 0.3 ? 0 : 1));
  return { state, masks };
}

const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** Every parameter and running statistic of `got` equals `want`'s (pruned weights as zeros), bit for bit. */
function expectState(got: ModelState, want: { state: ModelState; masks: Tensors }): void {
  const params = applyMasks(want.state.params, want.masks);
  for (const p of spec.params) expect(same(got.params[p.name]!, params[p.name]!)).toBe(true);
  for (const b of spec.buffers) if (b.role !== "fold") expect(same(got.buffers[b.name]!, want.state.buffers[b.name]!)).toBe(true);
}

/** numpy.savez by hand: one little-endian float64 .npy per tensor, and BN's int64 counters. */
function npzOf(s: { state: ModelState; masks: Tensors }): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  for (const [name, t] of toStateDict(spec, s.state, s.masks)) {
    const data = t.dtype === "float32" ? new Uint8Array(Float64Array.from(t.data as Float32Array).buffer) : new Uint8Array((t.data as BigInt64Array).buffer);
    const header = npyHeader(t.dtype === "float32" ? "<f8" : "<i8", t.shape);
    const npy = new Uint8Array(header.length + data.length);
    npy.set(header);
    npy.set(data, header.length);
    files[`${name}.npy`] = npy;
  }
  return zipSync(files);
}

describe("every format reads into the same model state", () => {
  const s = trained(3);
  test(".pt: a state_dict, its masks kept", () => {
    const file = join(dir, "a.pt");
    writeFileSync(file, writeStateDict(toStateDict(spec, s.state, s.masks)));
    const got = readStartWeights(spec, file);
    expectState(got.state, s);
  });

  test(".npz of float64 arrays and int64 counters, as numpy.savez writes them", () => {
    const file = join(dir, "a.npz");
    writeFileSync(file, npzOf(s));
    expectState(readStartWeights(spec, file).state, s);
  });

  test(".onnx: an exported inference model's initializers, dense and sparse; the graph's other constants passed over", () => {
    const bytes = exportInferenceModel(spec, s.state, s.masks, { bnEps: 1e-5, metadata: {} });
    writeFileSync(join(dir, "a.onnx"), bytes);
    expectState(readStartWeights(spec, join(dir, "a.onnx")).state, s);
    const sparse = withSparseInitializers(bytes, 0.2);
    expect(sparse.converted).toBeGreaterThan(0);
    writeFileSync(join(dir, "sparse.onnx"), sparse.bytes);
    expectState(readStartWeights(spec, join(dir, "sparse.onnx")).state, s);
  });

  test.skipIf(!python)(".npz written by numpy from a PyTorch state_dict", () => {
    const pt = join(dir, "np.pt"),
      npz = join(dir, "np.npz");
    writeFileSync(pt, writeStateDict(toStateDict(spec, s.state, s.masks)));
    const r = Bun.spawnSync(
      [python!, "-c", `import torch, numpy as np; sd = torch.load("${pt}"); np.savez("${npz}", **{k: v.numpy() for k, v in sd.items()})`],
      {
        stderr: "pipe",
      },
    );
    if (r.exitCode !== 0) throw new Error(r.stderr.toString());
    expectState(readStartWeights(spec, npz).state, s);
  });

  test("what cannot be read is a ConfigError naming the setting, the file and what to do", () => {
    const other = buildModel("preresnet20", { width: 8, inputShape: [3, 8, 8], numClasses: 5 });
    writeFileSync(join(dir, "wide.pt"), writeStateDict(toStateDict(other, freshState(other, 1))));
    const err = (f: string) => {
      try {
        readStartWeights(spec, join(dir, f), "dense.startWeights");
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      throw new Error("no error");
    };
    expect(err("wide.pt")).toMatch(
      /^dense\.startWeights\.path: .*wide\.pt does not fit preresnet20 \(width and classes as configured\): wrong shape: conv1\.weight \[8, 3, 3, 3\] for \[4, 3, 3, 3\]/,
    );
    writeFileSync(join(dir, "junk.pt"), "not a zip");
    expect(err("junk.pt")).toContain("junk.pt could not be read as .pt");
    writeFileSync(join(dir, "w.h5"), "x");
    expect(err("w.h5")).toContain("w.h5 is not a weights file this harness reads; use one of .pt, .pth, .npz, .onnx");
  });
});

describe("the file is pinned by its SHA-256 where the settings are read", () => {
  test("any startWeights at any depth: absolute path and the file's hash; a missing file or another hash is an error naming the setting", () => {
    const file = join(dir, "abc.pt");
    writeFileSync(file, "abc");
    // SHA-256("abc"), FIPS 180-2's example.
    const abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const cfg: { dense: { startWeights: { path: string; sha256?: string } }; other: unknown[] } = {
      dense: { startWeights: { path: relative(process.cwd(), file) } },
      other: [{ startWeights: { path: file, sha256: abc } }],
    };
    pinStartWeights(cfg);
    expect(cfg.dense.startWeights).toEqual({ path: file, sha256: abc });
    expect(() => pinStartWeights({ dense: { startWeights: { path: join(dir, "none.pt") } } })).toThrow(
      `dense.startWeights.path: no file ${join(dir, "none.pt")}`,
    );
    expect(() => pinStartWeights({ dense: { startWeights: { path: file, sha256: "0".repeat(64) } } })).toThrow(
      `dense.startWeights.sha256: ${file} has SHA-256 ${abc}, not the ${"0".repeat(64)} given; the file changed`,
    );
  });

  test("a unit whose file changed after planning refuses to start from it", () => {
    const s = trained(4);
    const file = join(dir, "changing.pt");
    writeFileSync(file, writeStateDict(toStateDict(spec, s.state, s.masks)));
    const t = { startWeights: { path: file } } as TrainingConfig;
    pinStartWeights(t);
    expectState(startWeightsOf(t, spec)!.state, s);
    writeFileSync(file, writeStateDict(toStateDict(spec, trained(5).state)));
    expect(() => startWeightsOf(t, spec)).toThrow(`startWeights.path: ${file} changed since the run was planned`);
    expect(startWeightsOf({} as TrainingConfig, spec)).toBeUndefined();
  });
});

describe.skipIf(!python)("an outside PyTorch model as a unit's start weights", () => {
  test("bun run train --set startWeights.path=<a reference PreResNet-20 saved by PyTorch>: the unit starts from its weights and its pruned conv's mask, and names the file's hash", async () => {
    const cfg = loadPresetConfig<TrainingConfig>("train", "training", "smoke", []);
    const data = await loadData(cfg);
    const smokeSpec = modelFor(cfg, data);
    const [C, H, W] = smokeSpec.inputShape;
    const file = join(dir, "theirs.pt");
    torchReference({
      python: python!,
      dir,
      mode: "save",
      family: "preresnet",
      depth: 20,
      width: cfg.model.width,
      classes: data.numClasses,
      state: file,
      x: new Float32Array(C! * H! * W!),
      shape: [1, C!, H!, W!],
      seed: 9,
    });
    const theirs = fromStateDict(smokeSpec, readStateDict(readFileSync(file)));
    const runs = join(dir, "runs");
    // A learning rate of 1e-30 moves no float32 weight: what the unit ends with is what it started from.
    const args = ["--preset", "smoke", "--runs-dir", runs, "--set", `startWeights.path=${file}`, "--set", "optim.epochs=1", "--set", "optim.lr=1e-30"];
    const r = Bun.spawnSync([process.execPath, join(REPO, "src/cli/train.ts"), ...args], { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`train failed (${r.exitCode}): ${r.stderr.toString().slice(-2000)}`);
    const units = readdirSync(runs).filter((d) => existsSync(join(runs, d, "model.ckpt")));
    expect(units.length).toBe(1);
    const ck = loadCheckpoint(join(runs, units[0]!, "model.ckpt"));
    // The conv PyTorch pruned keeps its mask; every other prunable layer is whole.
    expect(Object.keys(theirs.masks)).toEqual(["layer1.0.conv1.weight"]);
    for (const [l, m] of Object.entries(ck.masks)) expect(l in theirs.masks ? same(m, theirs.masks[l]!) : m.every((v) => v === 1)).toBe(true);
    expect(ck.masks["layer1.0.conv1.weight"]!.reduce((a, b) => a + b, 0)).toBe(ck.masks["layer1.0.conv1.weight"]!.length / 2);
    for (const p of smokeSpec.params) expect(same(ck.state.params[p.name]!, theirs.state.params[p.name]!)).toBe(true);
    const record = JSON.parse(readFileSync(join(runs, units[0]!, "result.json"), "utf8"));
    const sha = new Bun.CryptoHasher("sha256").update(readFileSync(file)).digest("hex");
    expect(record.config.startWeights).toEqual({ path: file, sha256: sha });
  });
});

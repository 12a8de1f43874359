import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onnx } from "onnx-proto";
import * as ort from "onnxruntime-node";
import { detectProviders } from "../../src/engine/onnx/providers.ts";

const REPO = join(import.meta.dir, "../..");
const run = (script: string, args: string[]) => Bun.spawnSync([process.execPath, join(REPO, script), ...args], { stdout: "pipe", stderr: "pipe" });

test("models:export then bench:sparse-inference (smoke): loadable files with metadata, a manifest that matches them, a report with three verdicts; a model that no longer classifies as exported, or a swapped file, is refused", () => {
  const dir = mkdtempSync(join(tmpdir(), "sparse-"));
  const common = ["--preset", "smoke", "--runs-dir", join(dir, "runs"), "--models-dir", join(dir, "models"), "--report-dir", join(dir, "reports")];
  const ex = run("src/cli/models-export.ts", common);
  if (ex.exitCode !== 0) throw new Error(`models:export failed (${ex.exitCode}): ${ex.stderr.toString().slice(-2000)}`);
  const mdir = join(dir, "models", "smoke");
  const manifest = JSON.parse(readFileSync(join(mdir, "manifest.json"), "utf8"));
  expect(manifest.models.map((m: { kind: string }) => m.kind)).toEqual(["dense", "unstructured", "structured"]);
  for (const m of manifest.models) {
    const bytes = readFileSync(join(mdir, m.file));
    expect(bytes.length).toBe(m.bytes);
    const model = onnx.ModelProto.decode(bytes);
    const meta = Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
    expect(meta.kind).toBe(m.kind);
    expect(meta.dataset).toBe("synthetic");
    expect(m.parityMaxAbsDiff).toBeLessThanOrEqual(1e-4);
  }
  const [dense, unstructured, structured] = manifest.models;
  // Unstructured: 20% of conv weights kept, same file size; structured: fewer parameters and MACs.
  expect(Math.abs(unstructured.convWeightDensity - 0.2)).toBeLessThan(0.01);
  expect(unstructured.parameters).toBe(dense.parameters);
  expect(structured.parameters).toBeLessThan(dense.parameters);
  expect(structured.macs.remaining).toBeLessThan(dense.macs.remaining);

  // Any finished unit exports on its own, compacted: the structured model's unit gives the same channels removed.
  const u = run("src/cli/models-export.ts", [...common, "--unit", structured.unit]);
  if (u.exitCode !== 0) throw new Error(`models:export --unit failed (${u.exitCode}): ${u.stderr.toString().slice(-2000)}`);
  expect(u.stdout.toString()).toContain(`${structured.removedConvChannels} conv channels removed`);
  expect(existsSync(join(dir, "models", "units", `${structured.unit}.onnx`))).toBe(true);
  expect(run("src/cli/models-export.ts", [...common, "--unit", "train-000000000000"]).exitCode).toBe(2);

  // Where CUDA cannot load (CI), asking for it falls back to CPU with one notice, and the report records cpu.
  const cudaMissing = !detectProviders().find((p) => p.name === "cuda")!.available;
  const b = run("bench/sparse-inference.ts", [...common, ...(cudaMissing ? ["--provider", "cuda"] : [])]);
  if (b.exitCode !== 0) throw new Error(`bench:sparse-inference failed (${b.exitCode}): ${b.stderr.toString().slice(-2000)}`);
  if (cudaMissing) expect(b.stderr.toString().match(/execution provider cuda unavailable .*; falling back to cpu/g)?.length).toBe(1);
  for (const f of ["sparse-inference.md", "sparse-inference.json", "sparse-inference.svg"]) expect(existsSync(join(dir, "reports", f))).toBe(true);
  const json = JSON.parse(readFileSync(join(dir, "reports", "sparse-inference.json"), "utf8"));
  if (cudaMissing) expect(json.provider).toBe("cpu");
  // dense, unstructured (dense and sparse initializers), structured
  expect(json.results.length).toBe(4);
  for (const r of json.results) {
    expect(r.status).toBe("measured");
    expect(r.check.correct).toBe(r.check.expected);
    expect(r.latency.p50).toBeGreaterThan(0);
    expect(r.latency.p90).toBeGreaterThanOrEqual(r.latency.p50);
  }
  const md = readFileSync(join(dir, "reports", "sparse-inference.md"), "utf8");
  expect(md.match(/\*\*(REPRODUCED|NOT REPRODUCED|INCONCLUSIVE)\*\*/g)?.length).toBe(3);

  // Tamper: the manifest now says the structured model got two more check images right than it does.
  const original = readFileSync(join(mdir, "manifest.json"), "utf8");
  manifest.models[2].check.correct += 2;
  writeFileSync(join(mdir, "manifest.json"), JSON.stringify(manifest));
  const bad = run("bench/sparse-inference.ts", common);
  expect(bad.exitCode).not.toBe(0);
  expect(bad.stderr.toString()).toContain("refusing to time");
  // Tamper: a file replaced by another model is caught by its SHA-256 before any session starts.
  writeFileSync(join(mdir, "manifest.json"), original);
  writeFileSync(join(mdir, structured.file), readFileSync(join(mdir, dense.file)));
  const swapped = run("bench/sparse-inference.ts", common);
  expect(swapped.exitCode).toBe(2);
  expect(swapped.stderr.toString()).toContain("SHA-256 differs");

  // A manifest entry missing a field is refused by the manifest's schema, naming the field.
  const partial = JSON.parse(original);
  delete partial.models[1].macs;
  writeFileSync(join(mdir, "manifest.json"), JSON.stringify(partial));
  const incomplete = run("bench/sparse-inference.ts", common);
  expect(incomplete.exitCode).toBe(2);
  expect(incomplete.stderr.toString()).toContain('models.1: missing required setting "macs"');

  // An export that fails on the way (here: a parity tolerance nothing meets) leaves the previous export as it was.
  writeFileSync(join(mdir, "manifest.json"), original);
  const files = readdirSync(mdir).sort();
  const failing = run("src/cli/models-export.ts", [...common, "--set", "parity.tolerance=1e-30"]);
  expect(failing.exitCode).not.toBe(0);
  expect(readFileSync(join(mdir, "manifest.json"), "utf8")).toBe(original);
  expect(readdirSync(mdir).sort()).toEqual(files);
  expect(readdirSync(join(dir, "models")).filter((f) => f.includes(".staging-") || f.includes(".old-"))).toEqual([]);

  // A finished unit whose weights file is damaged is recomputed, and the export completes.
  const ckpt = join(dir, "runs", dense.unit, "model.ckpt");
  const bytes = readFileSync(ckpt);
  bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
  writeFileSync(ckpt, bytes);
  const repaired = run("src/cli/models-export.ts", common);
  if (repaired.exitCode !== 0)
    throw new Error(`models:export after a damaged checkpoint failed (${repaired.exitCode}): ${repaired.stderr.toString().slice(-2000)}`);
  expect(repaired.stderr.toString()).toMatch(/model\.ckpt is damaged; it will be recomputed/);
  expect(JSON.parse(readFileSync(join(mdir, "manifest.json"), "utf8")).models.length).toBe(manifest.models.length);
}, 240_000);

test("sparse initializers keep the model's outputs", async () => {
  const { withSparseInitializers } = await import("../../src/onnx/sparse-initializers.ts");
  const { exportInferenceModel } = await import("../../src/onnx/export.ts");
  const { freshState } = await import("../../src/engine/state.ts");
  const { globalMagnitudeMasks } = await import("../../src/prune/magnitude.ts");
  const { prunableLayers } = await import("../../src/models/spec.ts");
  const { tinySpecs, randomBatch, maxRelDiff } = await import("../helpers/tiny-models.ts");
  const spec = tinySpecs()[0]!;
  const state = freshState(spec, 2);
  const masks = globalMagnitudeMasks(
    state.params,
    prunableLayers(spec).map((l) => l.name),
    0.1,
  );
  const bytes = exportInferenceModel(spec, state, masks, { bnEps: 1e-5, metadata: {} });
  const sparse = withSparseInitializers(bytes, 0.5);
  expect(sparse.bytes.length).toBeLessThan(bytes.length);
  const names = (onnx.ModelProto.decode(sparse.bytes).graph!.sparseInitializer ?? []).map((t) => t.values!.name ?? "");
  expect(names.length).toBe(sparse.converted);
  // Exactly the conv weights that pruning left at least half zero are stored sparse (plus all-zero fresh BN betas and means).
  for (const l of prunableLayers(spec)) {
    const zeros = masks[l.name]!.filter((m) => m === 0).length / masks[l.name]!.length;
    expect(names.includes(`param/${l.name}`)).toBe(zeros >= 0.5 && masks[l.name]!.length >= 16);
  }
  expect(names.filter((n) => n.includes("conv")).length).toBeGreaterThan(15);
  const batch = randomBatch(spec, 3, 1);
  const outs: Float32Array[] = [];
  for (const b of [bytes, sparse.bytes]) {
    const s = await ort.InferenceSession.create(b, { executionProviders: ["cpu"] });
    outs.push((await s.run({ x: new ort.Tensor("float32", batch.x, [3, ...spec.inputShape]) })).logits!.data as Float32Array);
    await s.release();
  }
  expect(maxRelDiff(outs[1]!, outs[0]!)).toBe(0);
});

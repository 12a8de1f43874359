import { expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import jpeg from "jpeg-js";
import { probeTorch } from "../../src/engine/torch/detect.ts";

const REPO = join(import.meta.dir, "../..");
const dir = mkdtempSync(join(tmpdir(), "zoo-data-"));

/** A CIFAR-100 binary copy of `train` + `test` records: coarse byte, fine byte (n % 100), 3072 pixels. */
function cifar100(root: string, train: number, test: number): string {
  const d = join(root, "cifar-100-binary");
  mkdirSync(d, { recursive: true });
  const file = (n: number, seed: number) =>
    Uint8Array.from({ length: n * 3074 }, (_, i) => {
      const r = Math.floor(i / 3074),
        k = i % 3074;
      return k === 0 ? r % 20 : k === 1 ? (r * 7 + seed) % 100 : (r * 31 + k * (7 + ((r * 7 + seed) % 5))) & 255;
    });
  writeFileSync(join(d, "train.bin"), file(train, 0));
  writeFileSync(join(d, "test.bin"), file(test, 0));
  return d;
}

/** A Tiny-ImageNet folder in the official layout: `perClass` training JPEGs of each wnid, `val` annotated validation JPEGs. */
function tinyImageNet(root: string, wnids: string[], perClass: number, val: number): string {
  const top = join(root, "tiny-imagenet-200");
  const jpg = (v: number) => {
    const data = new Uint8Array(64 * 64 * 4);
    for (let i = 0; i < 64 * 64; i++) data.set([v, (i * 3) & 255, 255 - v, 255], i * 4);
    return new Uint8Array(jpeg.encode({ width: 64, height: 64, data }, 90).data);
  };
  const put = (p: string, b: Uint8Array | string) => {
    mkdirSync(dirname(join(top, p)), { recursive: true });
    writeFileSync(join(top, p), b);
  };
  put("wnids.txt", wnids.join("\n") + "\n");
  wnids.forEach((w, c) => {
    for (let k = 0; k < perClass; k++) put(`train/${w}/images/${w}_${k}.JPEG`, jpg(40 + 80 * c + k));
  });
  const lines: string[] = [];
  for (let i = 0; i < val; i++) {
    const w = wnids[i % wnids.length]!;
    put(`val/images/val_${i}.JPEG`, jpg(40 + 80 * (i % wnids.length)));
    lines.push(`val_${i}.JPEG\t${w}\t0\t0\t63\t63`);
  }
  put("val/val_annotations.txt", lines.join("\n") + "\n");
  return top;
}

/** bench:bip-vs-imp's smoke preset cut to one target, one seed, IMP and BiP (the zoo's bigger nets are slow on the CPU). */
function bench(args: string[]): { md: string; json: { points: { method: string }[] } } {
  const out = mkdtempSync(join(dir, "run-"));
  const r = Bun.spawnSync(
    [
      process.execPath,
      join(REPO, "bench/bip-vs-imp.ts"),
      "--preset",
      "smoke",
      ...args,
      "--set",
      'methods=["imp","bip"]',
      "--set",
      "seeds=[1]",
      "--set",
      "sparsities=[0.2]",
      "--runs-dir",
      join(out, "runs"),
      "--report-dir",
      join(out, "reports"),
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  if (r.exitCode !== 0) throw new Error(`bench:bip-vs-imp ${args.join(" ")} failed (${r.exitCode}): ${r.stderr.toString().slice(-2000)}`);
  return { md: readFileSync(join(out, "reports", "bip-vs-imp.md"), "utf8"), json: JSON.parse(readFileSync(join(out, "reports", "bip-vs-imp.json"), "utf8")) };
}

// The ONNX engine, and the torch engine where PyTorch imports. The TF.js oracle runs these too
// (measured: 220 s and 45 s on 2 cores), too slow for CI.
const engines = ["onnx", ...("found" in (await probeTorch()) ? ["torch"] : [])];

for (const engine of engines) {
  test(`bench:bip-vs-imp --model vgg16 --dataset cifar100 --preset smoke runs end to end on a CIFAR-100 copy in the official format (${engine} engine)`, () => {
    const data = cifar100(join(dir, `c100-${engine}`), 200, 40);
    const { md, json } = bench(["--model", "vgg16", "--dataset", "cifar100", "--data-dir", data, "--set", `dense.engine.name=${engine}`]);
    expect(md).toContain("| model | vgg16, width 4 |");
    expect(md).toMatch(/\| dataset \| cifar100: .*cifar-100-binary.* \(200 train \/ 40 test images\)/);
    expect(md).toContain(`| engine / EP | ${engine}/cpu`);
    expect(json.points.map((p) => p.method).sort()).toEqual(["BiP", "IMP"]);
  }, 180_000);

  test(`bench:bip-vs-imp --model resnet50 --dataset tiny-imagenet --preset smoke runs end to end on a Tiny-ImageNet folder in the official layout (${engine} engine)`, () => {
    const data = tinyImageNet(join(dir, `tin-${engine}`), ["n02", "n01", "n03"], 8, 6);
    const { md, json } = bench([
      "--model",
      "resnet50",
      "--dataset",
      "tiny-imagenet",
      "--data-dir",
      data,
      "--set",
      `dense.data.cacheDir=${join(dir, "cache")}`,
      "--set",
      `dense.engine.name=${engine}`,
    ]);
    expect(md).toContain("| model | resnet50, width 4 |");
    expect(md).toMatch(/\| dataset \| tiny-imagenet: Tiny-ImageNet-200, decoded in .* \(24 train \/ 6 test images\)/);
    expect(md).toContain(`| engine / EP | ${engine}/cpu`);
    expect(json.points.map((p) => p.method).sort()).toEqual(["BiP", "IMP"]);
  }, 180_000);
}

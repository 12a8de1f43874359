import { describe, expect, test } from "bun:test";
import { emitters } from "../../src/engine/onnx/register-all.ts";
import { MODELS, buildModel } from "../../src/models/registry.ts";
import { OP_KINDS } from "../../src/models/ops.ts";
import { countParams } from "../../src/models/spec.ts";

/**
 * Parameter counts at the papers' widths, against the reference implementations:
 * - resnet20a, resnet56a: akamaster/pytorch_resnet_cifar10 (BiP's ResNet-20s/56s), whose
 *   test() prints 269,722 and 853,018 trainable parameters (README: 0.27M, 0.85M);
 * - resnet18: BiP models/resnet_cifar.py = kuangliu/pytorch-cifar ResNet18, 11,173,962
 *   on CIFAR-10;
 * - vgg16: BiP models/vgg_cifar.py vgg16_bn (13 convs without bias, BN, classifier
 *   2048-256-256-10 with biases): 15,311,818, counted from that definition in PyTorch;
 * - resnet50: torchvision's resnet50 with 1000 classes, 25,557,032 (its model card);
 *   with Tiny-ImageNet's 200 classes 2048*800 + 800 fewer, 23,917,832.
 */
const cases: [string, number, [number, number, number], number, number][] = [
  ["resnet20a", 16, [3, 32, 32], 10, 269_722],
  ["resnet56a", 16, [3, 32, 32], 10, 853_018],
  ["resnet18", 64, [3, 32, 32], 10, 11_173_962],
  ["vgg16", 64, [3, 32, 32], 10, 15_311_818],
  ["resnet50", 64, [3, 224, 224], 1000, 25_557_032],
  ["resnet50", 64, [3, 64, 64], 200, 23_917_832],
];

describe("model zoo: parameter counts match the reference implementations", () => {
  for (const [arch, width, inputShape, numClasses, expected] of cases)
    test(`${arch} (${numClasses} classes, ${inputShape[1]} px): ${expected}`, () => {
      expect(countParams(buildModel(arch, { width, inputShape, numClasses }))).toBe(expected);
    });

  test("vgg16 refuses inputs its classifier was not built for, naming the fix", () => {
    expect(() => buildModel("vgg16", { width: 64, inputShape: [3, 64, 64], numClasses: 200 })).toThrow(/32x32 images.*data\.padTo/);
  });

  test("every model builds and ends in one logit per class", () => {
    for (const arch of Object.keys(MODELS)) {
      const spec = buildModel(arch, { width: 4, inputShape: [3, 32, 32], numClasses: 7 });
      expect(spec.shapes[spec.output]).toEqual([7]);
    }
  });
});

describe("the op table: every engine implements every op kind", () => {
  test("the ONNX engine's emitters", () => {
    expect(Object.keys(emitters({ eps: 1e-5, momentum: 0.1 })).sort()).toEqual([...OP_KINDS].sort());
  });

  test("the torch server's MODEL_OPS (and its packed table, all but a compacted model's kinds)", () => {
    const r = Bun.spawnSync(
      [
        "python3",
        "-c",
        "import json, sys; sys.path.insert(0, 'src/engine/torch'); import server; print(json.dumps([sorted(server.MODEL_OPS), sorted(server.MODEL_OPS_PACKED)]))",
      ],
      { cwd: `${import.meta.dir}/../..` },
    );
    if (r.exitCode !== 0) throw new Error(`python3 could not read server.py's op tables: ${r.stderr.toString()}`);
    const [plain, packed] = JSON.parse(r.stdout.toString()) as [string[], string[]];
    expect(plain).toEqual([...OP_KINDS].sort());
    expect(packed).toEqual(OP_KINDS.filter((k) => k !== "add-const" && k !== "channel-gather").sort());
  });
});

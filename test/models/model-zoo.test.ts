import { describe, expect, test } from "bun:test";
import { emitters } from "../../src/engine/onnx/register-all.ts";
import { ConfigError } from "../../src/config/load.ts";
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
 *   with Tiny-ImageNet's 200 classes 2048*800 + 800 fewer, 23,917,832;
 * - resnet56b, resnet20b (1x1 conv + BN projections where the shape changes): option A
 *   plus 16*32 + 2*32 + 32*64 + 2*64 = 2,752, i.e. 855,770 and 272,474, open_lth's
 *   cifar_resnet_56 and cifar_resnet_20;
 * - preresnet20: YefanZhou/ThreeRegimePruning PreResNet(depth=20), worked out from its
 *   definition: stem 432, stages 14,016 + 51,552 + 205,504, final BN 128, fc 650 = 272,282.
 */
const cases: [string, number, [number, number, number], number, number][] = [
  ["resnet20a", 16, [3, 32, 32], 10, 269_722],
  ["resnet56a", 16, [3, 32, 32], 10, 853_018],
  ["resnet56b", 16, [3, 32, 32], 10, 855_770],
  ["resnet20b", 16, [3, 32, 32], 10, 272_474],
  ["preresnet20", 16, [3, 32, 32], 10, 272_282],
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

  test("model.depth sets a CIFAR ResNet's depth, whatever the depth in its name: ResNet-20 and ResNet-56 counts either way", () => {
    const count = (arch: string, depth?: number) => countParams(buildModel(arch, { width: 16, inputShape: [3, 32, 32], numClasses: 10, depth }));
    expect(count("resnet20a", 56)).toBe(853_018);
    expect(count("resnet56a", 20)).toBe(269_722);
    expect(count("resnet20b", 56)).toBe(855_770);
    expect(count("preresnet20", 20)).toBe(272_282);
    // PreResNet-56: 9 blocks per stage instead of 3, each of the extra 18 as the stage's later blocks.
    expect(count("preresnet20", 56)).toBe(272_282 + 6 * 4_672 + 6 * 18_560 + 6 * 73_984);
    expect(buildModel("preresnet20", { width: 4, inputShape: [3, 8, 8], numClasses: 3, depth: 32 }).arch).toBe("preresnet32");
  });

  test("a depth that is not 6n+2, or a depth for a fixed architecture, is a config error naming the setting", () => {
    const o = { width: 4, inputShape: [3, 8, 8] as [number, number, number], numClasses: 3 };
    expect(() => buildModel("preresnet20", { ...o, depth: 30 })).toThrow(ConfigError);
    expect(() => buildModel("preresnet20", { ...o, depth: 30 })).toThrow("model.depth: 30: a preresnet ResNet's depth is 6n+2 with n >= 1");
    expect(() => buildModel("resnet2a", o)).toThrow("model.arch: resnet2a: a resnet-a (option-A shortcuts) ResNet's depth is 6n+2");
    expect(() => buildModel("resnet18", { ...o, depth: 34 })).toThrow("model.depth: resnet18 has a fixed depth");
    expect(() => buildModel("resnet34", o)).toThrow('model.arch: unknown architecture "resnet34"; known: preresnet<D>, resnet<D>a, resnet<D>b');
  });

  test("every model builds and ends in one logit per class", () => {
    for (const arch of [...Object.keys(MODELS), "preresnet8", "resnet14a", "resnet32b"]) {
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

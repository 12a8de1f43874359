import type { ModelOptions } from "./cifar-resnet.ts";
import { SpecBuilder, type ModelSpec } from "./spec.ts";

/** PyTorch's default init for conv and linear weights (kaiming_uniform with a = sqrt(5)): U(+-1/sqrt(fan_in)). */
export const torchDefaultInit = (fanIn: number) => ({ kind: "uniform" as const, bound: 1 / Math.sqrt(fanIn) });

/**
 * BasicBlock of the CIFAR ResNet-18/34 (BiP's models/resnet_cifar.py): conv-BN-ReLU-conv-BN
 * plus the shortcut, then ReLU; where the shape changes, the shortcut is a 1x1 conv + BN
 * (option B).
 */
export function basicBlock(
  b: SpecBuilder,
  x: string,
  name: string,
  planes: number,
  stride: number,
  init: (fanIn: number) => ModelSpec["params"][number]["init"],
): string {
  const cin = b.shape(x)[0]!;
  let out = b.relu(b.bn(b.conv(x, `${name}.conv1`, planes, { kernel: 3, stride, pad: 1, init: init(9 * cin) }), `${name}.bn1`));
  out = b.bn(b.conv(out, `${name}.conv2`, planes, { kernel: 3, stride: 1, pad: 1, init: init(9 * planes) }), `${name}.bn2`);
  const shortcut =
    stride !== 1 || cin !== planes ? b.bn(b.conv(x, `${name}.shortcut.0`, planes, { kernel: 1, stride, pad: 0, init: init(cin) }), `${name}.shortcut.1`) : x;
  return b.relu(b.add(out, shortcut));
}

/**
 * CIFAR ResNet-18 as BiP's models/resnet_cifar.py (and kuangliu/pytorch-cifar) define
 * it: 3x3 stride-1 stem conv-BN-ReLU (no max-pool), BasicBlocks 2-2-2-2 at width,
 * 2x, 4x, 8x (64 in the paper), stride 2 at the first block of stages 2-4, global
 * average pool, linear. PyTorch's default init (the file sets none).
 */
export function resnet18(o: ModelOptions): ModelSpec {
  const b = new SpecBuilder(o.inputShape);
  let x = b.relu(b.bn(b.conv(b.input, "conv1", o.width, { kernel: 3, stride: 1, pad: 1, init: torchDefaultInit(9 * o.inputShape[0]) }), "bn1"));
  [2, 2, 2, 2].forEach((blocks, stage) => {
    for (let i = 0; i < blocks; i++) x = basicBlock(b, x, `layer${stage + 1}.${i}`, o.width << stage, stage > 0 && i === 0 ? 2 : 1, torchDefaultInit);
  });
  const fin = b.shape(x)[0]!;
  x = b.fc(b.gap(x), "linear", o.numClasses, { weightInit: torchDefaultInit(fin), biasInit: torchDefaultInit(fin) });
  return b.build("resnet18", x, o.numClasses);
}

import type { ModelOptions } from "./cifar-resnet.ts";
import { torchDefaultInit } from "./resnet18.ts";
import { SpecBuilder, type ModelSpec } from "./spec.ts";

const EXPANSION = 4;

/**
 * ImageNet ResNet-50 as torchvision (v1.5) and BiP's models/resnet.py build it: a 7x7
 * stride-2 stem conv-BN-ReLU and a 3x3 stride-2 max-pool, bottleneck blocks 3-4-6-3
 * (1x1 reduce, 3x3 carrying the stride, 1x1 expand x4, each with BN; a 1x1 conv + BN
 * projection where the shape changes), global average pool, linear. Widths width, 2x,
 * 4x, 8x (64 in the paper). Init as torchvision: conv Kaiming-normal (fan_out), BN 1/0,
 * linear PyTorch's default. Any input of at least 32 pixels (64 for Tiny-ImageNet, 224
 * for ImageNet).
 */
export function resnet50(o: ModelOptions): ModelSpec {
  const b = new SpecBuilder(o.inputShape);
  const kaiming = (k: number, cout: number) => ({ kind: "normal" as const, std: Math.sqrt(2 / (k * k * cout)) });
  let x = b.relu(b.bn(b.conv(b.input, "conv1", o.width, { kernel: 7, stride: 2, pad: 3, init: kaiming(7, o.width) }), "bn1"));
  x = b.maxpool(x, { kernel: 3, stride: 2, pad: 1 });
  [3, 4, 6, 3].forEach((blocks, stage) => {
    const planes = o.width << stage;
    for (let i = 0; i < blocks; i++) {
      const stride = stage > 0 && i === 0 ? 2 : 1;
      const p = `layer${stage + 1}.${i}`;
      const cin = b.shape(x)[0]!;
      let out = b.relu(b.bn(b.conv(x, `${p}.conv1`, planes, { kernel: 1, stride: 1, pad: 0, init: kaiming(1, planes) }), `${p}.bn1`));
      out = b.relu(b.bn(b.conv(out, `${p}.conv2`, planes, { kernel: 3, stride, pad: 1, init: kaiming(3, planes) }), `${p}.bn2`));
      out = b.bn(b.conv(out, `${p}.conv3`, planes * EXPANSION, { kernel: 1, stride: 1, pad: 0, init: kaiming(1, planes * EXPANSION) }), `${p}.bn3`);
      const shortcut =
        stride !== 1 || cin !== planes * EXPANSION
          ? b.bn(b.conv(x, `${p}.downsample.0`, planes * EXPANSION, { kernel: 1, stride, pad: 0, init: kaiming(1, planes * EXPANSION) }), `${p}.downsample.1`)
          : x;
      x = b.relu(b.add(out, shortcut));
    }
  });
  const fin = b.shape(x)[0]!;
  x = b.fc(b.gap(x), "fc", o.numClasses, { weightInit: torchDefaultInit(fin), biasInit: torchDefaultInit(fin) });
  return b.build("resnet50", x, o.numClasses);
}

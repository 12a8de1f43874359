import type { ModelOptions } from "./cifar-resnet.ts";
import { SpecBuilder, type ModelSpec } from "./spec.ts";

/** Conv channels at width 64, "M" a 2x2 max-pool: BiP's models/vgg_cifar.py cfgs["16"] (four pools, not five). */
const VGG16: (number | "M")[] = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512];

/**
 * VGG-16 with BN as BiP (and Hydra) use it on CIFAR (models/vgg_cifar.py vgg16_bn):
 * 13 conv3x3-BN-ReLU layers with four 2x2 max-pools, AdaptiveAvgPool2d((2, 2)), then a
 * classifier 2048 -> 256 -> 256 -> classes with ReLUs. Channels scale with width/64.
 * Init as the file's initialize_weights: conv Kaiming-normal (fan_out), linear N(0, 0.01)
 * with zero bias.
 *
 * The adaptive pool is the identity on 32-pixel inputs (a 2x2 map after four pools),
 * the only size built here; other sizes are refused rather than approximated.
 */
export function vgg16(o: ModelOptions): ModelSpec {
  const [, h, w] = o.inputShape;
  if (h !== 32 || w !== 32)
    throw new Error(`vgg16: input ${h}x${w}; this VGG-16 (BiP's CIFAR variant) is built for 32x32 images (set data.padTo to 32, or use resnet18/resnet50)`);
  const b = new SpecBuilder(o.inputShape);
  let x = b.input;
  let layer = 0;
  for (const v of VGG16) {
    if (v === "M") {
      x = b.maxpool(x, { kernel: 2, stride: 2, pad: 0 });
      layer++;
      continue;
    }
    const cout = Math.max(1, Math.round((v * o.width) / 64));
    // Module indices of the authors' nn.Sequential (conv, BN, ReLU per layer; pools between), so names match their state_dict.
    x = b.relu(
      b.bn(
        b.conv(x, `features.${layer}`, cout, { kernel: 3, stride: 1, pad: 1, init: { kind: "normal", std: Math.sqrt(2 / (9 * cout)) } }),
        `features.${layer + 1}`,
      ),
    );
    layer += 3;
  }
  x = b.flatten(x);
  const linear = { weightInit: { kind: "normal" as const, std: 0.01 }, biasInit: { kind: "const" as const, value: 0 } };
  x = b.relu(b.fc(x, "classifier.0", 256, linear));
  x = b.relu(b.fc(x, "classifier.2", 256, linear));
  x = b.fc(x, "classifier.4", o.numClasses, linear);
  return b.build("vgg16", x, o.numClasses);
}

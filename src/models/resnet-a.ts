import { blocksPerStage, type CifarResNetOptions } from "./cifar-resnet.ts";
import { SpecBuilder, type ModelSpec } from "./spec.ts";

/**
 * CIFAR ResNet with option-A shortcuts (He et al. 2016; the BiP paper's ResNet-20,
 * as in akamaster/pytorch_resnet_cifar10): conv-BN-ReLU stem, blocks
 * conv-BN-ReLU-conv-BN + shortcut then ReLU; the shortcut subsamples and zero-pads
 * channels (no parameters). Conv and fc weights use Kaiming-normal (fan_in) init.
 */
export function resnetA(o: CifarResNetOptions): ModelSpec {
  const n = blocksPerStage(o.depth);
  const b = new SpecBuilder(o.inputShape);
  const kaiming = (fanIn: number) => ({ kind: "normal" as const, std: Math.sqrt(2 / fanIn) });
  let x = b.relu(b.bn(b.conv(b.input, "conv1", o.width, { kernel: 3, stride: 1, pad: 1, init: kaiming(9 * o.inputShape[0]) }), "bn1"));
  let inplanes = o.width;
  for (let stage = 0; stage < 3; stage++) {
    const planes = o.width << stage;
    for (let i = 0; i < n; i++) {
      const stride = stage > 0 && i === 0 ? 2 : 1;
      const p = `layer${stage + 1}.${i}`;
      let out = b.relu(b.bn(b.conv(x, `${p}.conv1`, planes, { kernel: 3, stride, pad: 1, init: kaiming(9 * inplanes) }), `${p}.bn1`));
      out = b.bn(b.conv(out, `${p}.conv2`, planes, { kernel: 3, stride: 1, pad: 1, init: kaiming(9 * planes) }), `${p}.bn2`);
      const shortcut = stride !== 1 || inplanes !== planes ? b.shortcutA(x, planes, stride) : x;
      x = b.relu(b.add(out, shortcut));
      inplanes = planes;
    }
  }
  x = b.gap(x);
  x = b.fc(x, "linear", o.numClasses, {
    weightInit: kaiming(inplanes),
    biasInit: { kind: "uniform", bound: 1 / Math.sqrt(inplanes) },
  });
  return b.build(`resnet${o.depth}a`, x, o.numClasses);
}

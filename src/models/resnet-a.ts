import { blocksPerStage, type CifarResNetOptions } from "./cifar-resnet.ts";
import { SpecBuilder, type ModelSpec } from "./spec.ts";

/**
 * CIFAR ResNet with option-A shortcuts (He et al. 2016; the BiP paper's ResNet-20,
 * as in akamaster/pytorch_resnet_cifar10): conv-BN-ReLU stem, blocks
 * conv-BN-ReLU-conv-BN + shortcut then ReLU; the shortcut subsamples and zero-pads
 * channels (no parameters). Conv and fc weights use Kaiming-normal (fan_in) init.
 */
export const resnetA = (o: CifarResNetOptions): ModelSpec => cifarResNet(o, "A");

/**
 * The same network with option-B shortcuts: a 1x1 stride-2 conv + BN projection wherever
 * a block changes shape, as akamaster's option B and open_lth's cifar_resnet_D do
 * (ResNet-56: 855,770 parameters for 10 classes, 2,752 more than option A). Names follow
 * akamaster: layerS.B.shortcut.0 (conv) and .1 (BN).
 */
export const resnetB = (o: CifarResNetOptions): ModelSpec => cifarResNet(o, "B");

function cifarResNet(o: CifarResNetOptions, option: "A" | "B"): ModelSpec {
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
      const projection = () => b.bn(b.conv(x, `${p}.shortcut.0`, planes, { kernel: 1, stride, pad: 0, init: kaiming(inplanes) }), `${p}.shortcut.1`);
      const shortcut = stride !== 1 || inplanes !== planes ? (option === "A" ? b.shortcutA(x, planes, stride) : projection()) : x;
      x = b.relu(b.add(out, shortcut));
      inplanes = planes;
    }
  }
  x = b.gap(x);
  x = b.fc(x, "linear", o.numClasses, {
    weightInit: kaiming(inplanes),
    biasInit: { kind: "uniform", bound: 1 / Math.sqrt(inplanes) },
  });
  return b.build(`resnet${o.depth}${option.toLowerCase()}`, x, o.numClasses);
}

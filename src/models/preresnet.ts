import { SpecBuilder, type ModelSpec } from "./spec.ts";

export interface CifarResNetOptions {
  /** Network depth 6n+2 (20 for the papers' models). */
  depth: number;
  /** Channels of the first stage; stages use width, 2*width, 4*width (16 in the papers). */
  width: number;
  /** [C, H, W] of an input image. */
  inputShape: [number, number, number];
  numClasses: number;
}

function blocksPerStage(depth: number): number {
  if ((depth - 2) % 6 !== 0 || depth < 8) throw new Error(`depth must be 6n+2 (>= 8), got ${depth}`);
  return (depth - 2) / 6;
}

/**
 * Pre-activation ResNet for CIFAR as in the three-regime paper's code
 * (YefanZhou/ThreeRegimePruning models/cifar/preresnet.py): blocks BN-ReLU-conv x2,
 * the stage-transition shortcut is a 1x1 stride-2 conv of the block's raw input,
 * final BN-ReLU, global average pool, fc. Conv init N(0, 2/(k*k*cout)); fc keeps
 * PyTorch's default U(+-1/sqrt(fan_in)).
 */
export function preresnet(o: CifarResNetOptions): ModelSpec {
  const n = blocksPerStage(o.depth);
  const b = new SpecBuilder(o.inputShape);
  const convInit = (k: number, cout: number) => ({ kind: "normal" as const, std: Math.sqrt(2 / (k * k * cout)) });
  let x = b.conv(b.input, "conv1", o.width, { kernel: 3, stride: 1, pad: 1, init: convInit(3, o.width) });
  let inplanes = o.width;
  for (let stage = 0; stage < 3; stage++) {
    const planes = o.width << stage;
    for (let i = 0; i < n; i++) {
      const stride = stage > 0 && i === 0 ? 2 : 1;
      const p = `layer${stage + 1}.${i}`;
      let out = b.relu(b.bn(x, `${p}.bn1`));
      out = b.conv(out, `${p}.conv1`, planes, { kernel: 3, stride, pad: 1, init: convInit(3, planes) });
      out = b.relu(b.bn(out, `${p}.bn2`));
      out = b.conv(out, `${p}.conv2`, planes, { kernel: 3, stride: 1, pad: 1, init: convInit(3, planes) });
      const residual =
        stride !== 1 || inplanes !== planes
          ? b.conv(x, `${p}.downsample.0`, planes, { kernel: 1, stride, pad: 0, init: convInit(1, planes) })
          : x;
      x = b.add(out, residual);
      inplanes = planes;
    }
  }
  x = b.relu(b.bn(x, "bn"));
  x = b.gap(x);
  const bound = 1 / Math.sqrt(inplanes);
  x = b.fc(x, "fc", o.numClasses, { weightInit: { kind: "uniform", bound }, biasInit: { kind: "uniform", bound } });
  return b.build(`preresnet${o.depth}`, x, o.numClasses);
}

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

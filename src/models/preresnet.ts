import { blocksPerStage, type CifarResNetOptions } from "./cifar-resnet.ts";
import { SpecBuilder, type ModelSpec } from "./spec.ts";

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
        stride !== 1 || inplanes !== planes ? b.conv(x, `${p}.downsample.0`, planes, { kernel: 1, stride, pad: 0, init: convInit(1, planes) }) : x;
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

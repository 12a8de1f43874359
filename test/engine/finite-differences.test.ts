import { describe, expect, test } from "bun:test";
import { OnnxTrainer } from "../../src/engine/onnx/onnx-trainer.ts";
import { freshState } from "../../src/engine/state.ts";
import { SpecBuilder, type ModelSpec } from "../../src/models/spec.ts";
import { optim, randomBatch, TEST_EP } from "../helpers/tiny-models.ts";

const init = { kind: "normal" as const, std: 0.5 };
const fcInit = { weightInit: init, biasInit: init };

/**
 * stem conv -> op under test -> global pool -> fc. The stem's weight gradient passes
 * through the op's input gradient, so FD on the stem checks the op's backward for its
 * input, and FD on the op's own parameters checks its parameter gradients.
 */
function around(name: string, body: (b: SpecBuilder, x: string) => string): ModelSpec {
  const b = new SpecBuilder([2, 6, 6]);
  const stem = b.conv(b.input, "stem", 4, { kernel: 3, stride: 1, pad: 1, init });
  const y = body(b, stem);
  const out = b.fc(b.gap(y), "fc", 3, fcInit);
  return b.build(name, out, 3);
}

const cases: Record<string, ModelSpec> = {
  "conv 3x3 stride 1": around("c31", (b, x) => b.conv(x, "op", 5, { kernel: 3, stride: 1, pad: 1, init })),
  "conv 3x3 stride 2": around("c32", (b, x) => b.conv(x, "op", 5, { kernel: 3, stride: 2, pad: 1, init })),
  "conv 1x1 stride 2": around("c12", (b, x) => b.conv(x, "op", 5, { kernel: 1, stride: 2, pad: 0, init })),
  "batch norm (training mode)": around("bn", (b, x) => b.bn(x, "op")),
  relu: around("relu", (b, x) => b.relu(x)),
  "add (residual fan-out)": around("add", (b, x) => b.add(x, b.conv(x, "op", 4, { kernel: 3, stride: 1, pad: 1, init }))),
  "option-A shortcut": around("sa", (b, x) => b.shortcutA(x, 8, 2)),
  "max-pool 2x2 stride 2": around("mp2", (b, x) => b.maxpool(x, { kernel: 2, stride: 2, pad: 0 })),
  // Overlapping windows with padding (ResNet-50's stem): an element two windows choose gets both gradients.
  "max-pool 3x3 stride 2 pad 1": around("mp3", (b, x) => b.maxpool(x, { kernel: 3, stride: 2, pad: 1 })),
  "conv 7x7 stride 2 pad 3": around("c72", (b, x) => b.conv(x, "op", 3, { kernel: 7, stride: 2, pad: 3, init })),
  "flatten + fc": (() => {
    const b = new SpecBuilder([2, 4, 4]);
    const stem = b.conv(b.input, "stem", 3, { kernel: 3, stride: 2, pad: 1, init });
    return b.build("flat", b.fc(b.flatten(stem), "fc", 3, fcInit), 3);
  })(),
};

async function lossAt(t: OnnxTrainer, batch: ReturnType<typeof randomBatch>): Promise<number> {
  return (await t.gradients(batch)).loss;
}

describe(`ONNX op gradients match central finite differences (${TEST_EP} EP)`, () => {
  for (const [name, spec] of Object.entries(cases)) {
    test(name, async () => {
      const t = await OnnxTrainer.create({ spec, ...optim, threads: 1, provider: TEST_EP }, freshState(spec, 1));
      expect(t.provider).toBe(TEST_EP);
      const batch = randomBatch(spec, 5, 2);
      const { grads } = await t.gradients(batch);
      // Max-pooling is piecewise linear: a smaller step keeps the finite difference off its kinks (a window changing its choice).
      const eps = name.startsWith("max-pool") ? 2e-3 : 1e-2;
      for (const p of spec.params) {
        const g = grads[p.name]!;
        // The largest gradient entries: where float32 finite differences are meaningful.
        const idx = [...g.keys()].sort((a, b) => Math.abs(g[b]!) - Math.abs(g[a]!)).slice(0, 6);
        const w = t.state.params[p.name]!;
        for (const i of idx) {
          const w0 = w[i]!;
          w[i] = w0 + eps;
          const up = await lossAt(t, batch);
          w[i] = w0 - eps;
          const down = await lossAt(t, batch);
          w[i] = w0;
          const fd = (up - down) / (2 * eps);
          const err = Math.abs(fd - g[i]!);
          if (err > 2e-3 + 2e-2 * Math.abs(g[i]!)) throw new Error(`${p.name}[${i}]: analytic ${g[i]} vs finite difference ${fd}`);
        }
      }
      expect(Object.keys(grads).length).toBe(spec.params.length);
      await t.dispose();
    });
  }
});

import { expect, test } from "bun:test";
import { SpecBuilder } from "../../src/models/spec.ts";
import { countMacs, macLayers, paddedMacs } from "../../src/onnx/flops.ts";

test("MAC count matches a hand count on a tiny network, with and without a mask", () => {
  // 2x6x6 input -> conv 3x3 pad 1 to 4 channels (6x6 out) -> conv 3x3 stride 2 pad 1 to 8 (3x3 out) -> pool -> fc 8->5
  const init = { kind: "const" as const, value: 1 };
  const b = new SpecBuilder([2, 6, 6]);
  const x1 = b.conv(b.input, "a", 4, { kernel: 3, stride: 1, pad: 1, init });
  const x2 = b.conv(b.relu(x1), "b", 8, { kernel: 3, stride: 2, pad: 1, init });
  const out = b.fc(b.gap(x2), "fc", 5, { weightInit: init, biasInit: init });
  const spec = b.build("tiny", out, 5);
  // a: 4*2*9 = 72 weights x 36 positions = 2592; b: 8*4*9 = 288 weights x 9 positions = 2592; fc: 40.
  expect(countMacs(spec).dense).toBe(2592 + 2592 + 40);
  // Prune half of a's weights and all but 9 of b's.
  const ma = new Float32Array(72).map((_, i) => (i % 2 ? 0 : 1));
  const mb = new Float32Array(288).map((_, i) => (i < 9 ? 1 : 0));
  expect(countMacs(spec, { "a.weight": ma, "b.weight": mb })).toEqual({ dense: 5224, remaining: 36 * 36 + 9 * 9 + 40 });
});

test("MACs with channels padded to the NCHWc block match a hand count", () => {
  const init = { kind: "const" as const, value: 1 };
  const b = new SpecBuilder([3, 4, 4]);
  const x1 = b.conv(b.input, "a", 12, { kernel: 3, stride: 1, pad: 1, init }); // 3 -> 12 channels, 16 positions
  const x2 = b.conv(x1, "b", 20, { kernel: 1, stride: 1, pad: 0, init }); // 12 -> 20, 16 positions
  const x3 = b.conv(x2, "c", 4, { kernel: 1, stride: 2, pad: 0, init }); // 20 -> 4, 4 positions
  const spec = b.build("tiny", b.fc(b.gap(x3), "fc", 5, { weightInit: init, biasInit: init }), 5);
  const layers = macLayers(spec);
  // No padding: 12*3*9*16 + 20*12*16 + 4*20*4 + 4*5
  expect(paddedMacs(layers, 1)).toBe(5184 + 3840 + 320 + 20);
  expect(paddedMacs(layers, 1)).toBe(countMacs(spec).dense);
  // Block 8: a: cout 12->16, cin 3 (< 8) unpadded; b: cin 12->16, cout 20->24; c: cin 20->24, cout 4->8.
  expect(paddedMacs(layers, 8)).toBe(16 * 3 * 9 * 16 + 24 * 16 * 16 + 8 * 24 * 4 + 20);
  // Block 16: b's input has fewer than 16 channels, so it stays unblocked (12); c: cin 20->32, cout 4->16.
  expect(paddedMacs(layers, 16)).toBe(16 * 3 * 9 * 16 + 32 * 12 * 16 + 16 * 32 * 4 + 20);
});

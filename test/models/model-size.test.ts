import { expect, test } from "bun:test";
import { buildModel } from "../../src/models/registry.ts";
import { countParams, prunableLayers, numel } from "../../src/models/spec.ts";

const cifar = { width: 16, inputShape: [3, 32, 32] as [number, number, number], numClasses: 10 };

test("PreResNet-20 at width 16 has 270,256 conv weights (three-regime paper)", () => {
  const spec = buildModel("preresnet20", cifar);
  expect(countParams(spec, ["conv"])).toBe(270_256);
  expect(prunableLayers(spec).length).toBe(21); // stem + 18 block convs + 2 downsample convs
});

test("ResNet-20 option A has 269,722 parameters (BiP paper)", () => {
  const spec = buildModel("resnet20a", cifar);
  expect(countParams(spec)).toBe(269_722);
  expect(prunableLayers(spec).length).toBe(19);
});

test("prunable layers expose names and shapes without architecture code", () => {
  const spec = buildModel("preresnet20", { ...cifar, width: 8, inputShape: [1, 32, 32] });
  const layers = prunableLayers(spec);
  expect(layers[0]).toEqual({ name: "conv1.weight", shape: [8, 1, 3, 3] });
  expect(layers.at(-1)).toEqual({ name: "layer3.2.conv2.weight", shape: [32, 32, 3, 3] });
  expect(layers.reduce((s, l) => s + numel(l.shape), 0)).toBe(countParams(spec, ["conv"]));
});

test("unknown model names are rejected with the known list", () => {
  expect(() => buildModel("vgg", cifar)).toThrow(/unknown architecture "vgg"; known: preresnet<D>, resnet<D>a, resnet<D>b .*, resnet18, vgg16, resnet50/);
});

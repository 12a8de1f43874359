import type { ModelOptions } from "./cifar-resnet.ts";
import { preresnet } from "./preresnet.ts";
import { resnet18 } from "./resnet18.ts";
import { resnet50 } from "./resnet50.ts";
import { resnetA } from "./resnet-a.ts";
import type { ModelSpec } from "./spec.ts";
import { vgg16 } from "./vgg.ts";

/** Architectures by name; configs refer to models only through these keys (schemas/training.schema.json lists them). */
export const MODELS = {
  preresnet20: (o: ModelOptions) => preresnet({ ...o, depth: 20 }),
  resnet20a: (o: ModelOptions) => resnetA({ ...o, depth: 20 }),
  resnet56a: (o: ModelOptions) => resnetA({ ...o, depth: 56 }),
  resnet18: resnet18,
  vgg16: vgg16,
  resnet50: resnet50,
} as const satisfies Record<string, (o: ModelOptions) => ModelSpec>;

export type ModelName = keyof typeof MODELS;

export function buildModel(name: string, o: ModelOptions): ModelSpec {
  const make = (MODELS as Record<string, (o: ModelOptions) => ModelSpec>)[name];
  if (!make) throw new Error(`unknown model "${name}"; known: ${Object.keys(MODELS).join(", ")}`);
  return make(o);
}

import type { CifarResNetOptions } from "./cifar-resnet.ts";
import { preresnet } from "./preresnet.ts";
import { resnetA } from "./resnet-a.ts";
import type { ModelSpec } from "./spec.ts";

/** Architectures by name; configs refer to models only through these keys. */
export const MODELS = {
  preresnet20: (o: Omit<CifarResNetOptions, "depth">) => preresnet({ ...o, depth: 20 }),
  resnet20a: (o: Omit<CifarResNetOptions, "depth">) => resnetA({ ...o, depth: 20 }),
} as const;

export type ModelName = keyof typeof MODELS;

export function buildModel(name: string, o: Omit<CifarResNetOptions, "depth">): ModelSpec {
  const make = (MODELS as Record<string, (o: Omit<CifarResNetOptions, "depth">) => ModelSpec>)[name];
  if (!make) throw new Error(`unknown model "${name}"; known: ${Object.keys(MODELS).join(", ")}`);
  return make(o);
}

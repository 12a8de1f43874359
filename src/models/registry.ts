import { ConfigError } from "../config/load.ts";
import type { CifarResNetOptions, ModelOptions } from "./cifar-resnet.ts";
import { preresnet } from "./preresnet.ts";
import { resnet18 } from "./resnet18.ts";
import { resnet50 } from "./resnet50.ts";
import { resnetA, resnetB } from "./resnet-a.ts";
import type { ModelSpec } from "./spec.ts";
import { vgg16 } from "./vgg.ts";

/**
 * CIFAR ResNet families of any depth 6n+2: the number in an architecture's name is its
 * depth (preresnet32, resnet56a, resnet110b; OpenLTH's cifar_resnet_56 rule), and
 * model.depth overrides it. A new family is one entry here.
 */
export const CIFAR_RESNET_FAMILIES = [
  { family: "preresnet", pattern: /^preresnet(\d+)$/, nameOf: (d: number) => `preresnet${d}`, build: preresnet },
  { family: "resnet-a (option-A shortcuts)", pattern: /^resnet(\d+)a$/, nameOf: (d: number) => `resnet${d}a`, build: resnetA },
  { family: "resnet-b (1x1 conv + BN shortcuts)", pattern: /^resnet(\d+)b$/, nameOf: (d: number) => `resnet${d}b`, build: resnetB },
] as const satisfies readonly { family: string; pattern: RegExp; nameOf: (d: number) => string; build: (o: CifarResNetOptions) => ModelSpec }[];

/** Architectures of a fixed depth, by name. */
export const MODELS = {
  resnet18: resnet18,
  vgg16: vgg16,
  resnet50: resnet50,
} as const satisfies Record<string, (o: ModelOptions) => ModelSpec>;

/** What the architecture names accept, for messages. */
export const ARCH_NAMES = `preresnet<D>, resnet<D>a, resnet<D>b (D = 6n+2: 20, 32, 44, 56, 110, ...), ${Object.keys(MODELS).join(", ")}`;

/**
 * The architecture a config names, at model.depth when given: its canonical name
 * (the depth in it) and its builder. Bad names and depths are ConfigErrors naming the
 * setting and what it accepts.
 */
export function resolveArch(arch: string, depth?: number): { name: string; build: (o: ModelOptions) => ModelSpec } {
  for (const f of CIFAR_RESNET_FAMILIES) {
    const m = f.pattern.exec(arch);
    if (!m) continue;
    const d = depth ?? Number(m[1]);
    if (!Number.isInteger(d) || d < 8 || (d - 2) % 6 !== 0)
      throw new ConfigError(
        `${depth === undefined ? `model.arch: ${arch}` : `model.depth: ${depth}`}: a ${f.family} ResNet's depth is 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...)`,
      );
    return { name: f.nameOf(d), build: (o) => f.build({ ...o, depth: d }) };
  }
  const fixed = (MODELS as Record<string, (o: ModelOptions) => ModelSpec>)[arch];
  if (!fixed) throw new ConfigError(`model.arch: unknown architecture "${arch}"; known: ${ARCH_NAMES}`);
  if (depth !== undefined)
    throw new ConfigError(`model.depth: ${arch} has a fixed depth; model.depth applies to the CIFAR ResNet families (preresnet<D>, resnet<D>a, resnet<D>b)`);
  return { name: arch, build: fixed };
}

/** A config's model by the name it trains as, the depth in it (preresnet20 at model.depth 56: preresnet56); the name as given when it does not resolve. */
export function archName(m: { arch: string; depth?: number }): string {
  try {
    return resolveArch(m.arch, m.depth).name;
  } catch {
    return m.arch;
  }
}

export function buildModel(name: string, o: ModelOptions & { depth?: number }): ModelSpec {
  const { depth, ...rest } = o;
  return resolveArch(name, depth).build(rest);
}

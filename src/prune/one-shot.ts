import { ConfigError, schemaExists, validateConfig } from "../config/load.ts";
import { blockChannelMasks } from "./channels.ts";
import { globalMagnitudeMasks, layerwiseMagnitudeMasks } from "./magnitude.ts";
import { randomMasks } from "./random.ts";
import type { OneShotMethod } from "./one-shot-method.ts";
import { weightGradientMethod } from "./weight-gradient.ts";

export type { OneShotInput, OneShotMethod } from "./one-shot-method.ts";

/**
 * One-shot pruning methods of a trained model, by the name a config uses
 * (`prune.method` of repro:fig2, `method` of the unit schemas, a `methods` entry of
 * bench:bip-vs-imp). A new method is its module and one line here; its settings, if
 * it has any, are schemas/one-shot-<name>.schema.json, found by that name.
 */
export const ONE_SHOT_METHODS = {
  "layerwise-magnitude": {
    label: "layer-wise L1 magnitude",
    description: "unstructured; every layer keeps the same fraction of its weights, those largest in |w| (the three-regime paper's pruning).",
    structured: false,
    masks: (i) => layerwiseMagnitudeMasks(i.params, i.layers, i.density),
  },
  "global-magnitude": {
    label: "global magnitude",
    description: "unstructured; one |w| threshold over all layers (OMP, and IMP's per-round step).",
    structured: false,
    masks: (i) => globalMagnitudeMasks(i.params, i.layers, i.density),
  },
  random: {
    label: "random",
    description: "unstructured; every layer keeps the same fraction of its weights, drawn uniformly from the seed (the sanity baseline).",
    structured: false,
    masks: (i) => randomMasks(i.params, i.layers, i.density, i.seed),
  },
  "block-channels-l1": {
    label: "block channels by filter L1",
    description: "structured; each residual block keeps the inner channels whose filters have the largest L1 norm (Li et al. 2017).",
    structured: true,
    masks: (i) => blockChannelMasks(i.spec, i.params, i.density, i.channelMultiple),
  },
  "weight-gradient": weightGradientMethod,
} satisfies Record<string, OneShotMethod<never>>;

export type OneShotMethodName = keyof typeof ONE_SHOT_METHODS;

/** The registered method called `name`, or a ConfigError naming `setting` and the registered ones. */
export function oneShotMethod(name: string, setting: string): OneShotMethod<Record<string, unknown>> {
  if (!Object.hasOwn(ONE_SHOT_METHODS, name))
    throw new ConfigError(
      `${setting}: unknown one-shot pruning method "${name}"; registered: ${Object.keys(ONE_SHOT_METHODS).join(", ")} (src/prune/one-shot.ts)`,
    );
  return ONE_SHOT_METHODS[name as OneShotMethodName] as OneShotMethod<Record<string, unknown>>;
}

/** The schema of a method's settings, by its name: schemas/one-shot-<name>.schema.json. */
export const oneShotSchema = (name: string) => `one-shot-${name}`;

/**
 * `settings` of method `name` as it runs with them: checked against its schema with the
 * defaults filled in, or {} for a method without settings (any given is an error).
 */
export function oneShotSettings(name: string, settings: Record<string, unknown> | undefined, setting: string): Record<string, unknown> {
  oneShotMethod(name, setting);
  const schema = oneShotSchema(name);
  if (schemaExists(schema)) return validateConfig<Record<string, unknown>>(schema, settings ?? {}, setting);
  if (settings && Object.keys(settings).length > 0)
    throw new ConfigError(
      `${setting}: the one-shot method "${name}" takes no settings (there is no schemas/${schema}.schema.json); remove ${JSON.stringify(settings)}`,
    );
  return {};
}

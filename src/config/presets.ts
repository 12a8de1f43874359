import { pinStartWeights } from "./start-weights.ts";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { applyOverride, checkSettingKeys, ConfigError, deepMerge, validateConfig } from "./load.ts";

const PRESET_DIR = join(import.meta.dir, "../../presets");

export type PresetName = "smoke" | "quick" | "paper";
export const PRESET_NAMES: PresetName[] = ["smoke", "quick", "paper"];

/** A config file given with --config: one JSON object of settings (any subset), as --print-config writes them. */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(
      `--config ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); give the path of a JSON file of settings`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`--config ${path}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new ConfigError(`--config ${path}: expected a JSON object of settings, e.g. {"dense": {"optim": {"epochs": 30}}}`);
  checkSettingKeys(value, `--config ${path}`);
  const preset = (value as Record<string, unknown>)[PRESET_KEY];
  if (preset !== undefined && (typeof preset !== "string" || !(PRESET_NAMES as string[]).includes(preset)))
    throw new ConfigError(`--config ${path}: "${PRESET_KEY}" is ${JSON.stringify(preset)}; expected one of ${PRESET_NAMES.map((p) => `"${p}"`).join(", ")}`);
  return value as Record<string, unknown>;
}

/**
 * The key of a config file that names the preset it was resolved from (--print-config
 * writes it): loading the file starts from that preset, so the file reproduces the
 * settings it was printed from. Not a setting; the schemas never see it.
 */
export const PRESET_KEY = "$preset";

/** The preset a config file names (PRESET_KEY), if any. */
export function configFilePreset(path: string): string | undefined {
  return readConfigFile(path)[PRESET_KEY] as string | undefined;
}

/**
 * The preset a command runs from: the one its --config files name (they must agree),
 * else --preset. A file that names another preset than an explicit --preset is an error:
 * its settings were resolved from its own preset, and the other one's would leak in.
 */
export function resolvePreset(flag: string, flagGiven: boolean, files: string[]): string {
  const named = files.map((f) => ({ f, preset: configFilePreset(f) })).filter((x): x is { f: string; preset: string } => x.preset !== undefined);
  const first = named[0];
  if (!first) return flag;
  const other = named.find((x) => x.preset !== first.preset);
  if (other)
    throw new ConfigError(
      `--config ${first.f} names preset "${first.preset}" but --config ${other.f} names "${other.preset}"; a run has one preset: edit the "${PRESET_KEY}" line of one of them`,
    );
  if (flagGiven && flag !== first.preset)
    throw new ConfigError(
      `--config ${first.f} names preset "${first.preset}" ("${PRESET_KEY}") but --preset ${flag} is given; drop --preset (the file's preset is used), or change the file's "${PRESET_KEY}"`,
    );
  return first.preset;
}

/**
 * presets/<command>.json maps preset names to partial configs: presets are data, not
 * code branches. The chosen preset, then each config file in order, then each
 * `path=value` override is merged over the schema's defaults and validated; any problem
 * is a ConfigError before work starts.
 */
export function loadPresetConfig<T>(command: string, schema: string, preset: string, overrides: string[] = [], files: string[] = []): T {
  const file = join(PRESET_DIR, `${command}.json`);
  if (!existsSync(file)) throw new Error(`missing preset file ${file}`);
  const all = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  if (!(preset in all)) throw new ConfigError(`unknown preset "${preset}" for ${command}; known: ${Object.keys(all).join(", ")}`);
  let merged = structuredClone(all[preset]) as Record<string, unknown>;
  for (const f of files) {
    const { [PRESET_KEY]: named, ...settings } = readConfigFile(f);
    if (named !== undefined && named !== preset)
      throw new ConfigError(
        `--config ${f} names preset "${String(named)}" ("${PRESET_KEY}") but the preset is "${preset}"; drop --preset or change the file's "${PRESET_KEY}"`,
      );
    merged = deepMerge(merged, settings);
  }
  const patch: Record<string, unknown> = {};
  for (const o of overrides) applyOverride(patch, o, schema);
  const sources = [...files.map((f) => `--config ${f}`), ...(overrides.length ? ["--set overrides"] : [])];
  const cfg = validateConfig<T>(schema, deepMerge(merged, patch), `${command} preset "${preset}"${sources.length ? ` with ${sources.join(", ")}` : ""}`);
  pinStartWeights(cfg);
  return cfg;
}

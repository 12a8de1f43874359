import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { applyOverride, ConfigError, deepMerge, validateConfig } from "./load.ts";

const PRESET_DIR = join(import.meta.dir, "../../presets");

export type PresetName = "smoke" | "quick" | "paper";
export const PRESET_NAMES: PresetName[] = ["smoke", "quick", "paper"];

/**
 * presets/<command>.json maps preset names to partial configs: presets are data, not
 * code branches. The chosen preset, then each `path=value` override, is merged over the
 * schema's defaults and validated; any problem is a ConfigError before work starts.
 */
export function loadPresetConfig<T>(command: string, schema: string, preset: string, overrides: string[] = []): T {
  const file = join(PRESET_DIR, `${command}.json`);
  if (!existsSync(file)) throw new Error(`missing preset file ${file}`);
  const all = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  if (!(preset in all)) throw new ConfigError(`unknown preset "${preset}" for ${command}; known: ${Object.keys(all).join(", ")}`);
  const merged = structuredClone(all[preset]) as Record<string, unknown>;
  const patch: Record<string, unknown> = {};
  for (const o of overrides) applyOverride(patch, o);
  return validateConfig<T>(schema, deepMerge(merged, patch), `${command} preset "${preset}"${overrides.length ? " with overrides" : ""}`);
}

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { applyOverride, ConfigError, deepMerge, validateConfig } from "./load.ts";

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
  return value as Record<string, unknown>;
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
  for (const f of files) merged = deepMerge(merged, readConfigFile(f));
  const patch: Record<string, unknown> = {};
  for (const o of overrides) applyOverride(patch, o, schema);
  const sources = [...files.map((f) => `--config ${f}`), ...(overrides.length ? ["--set overrides"] : [])];
  return validateConfig<T>(schema, deepMerge(merged, patch), `${command} preset "${preset}"${sources.length ? ` with ${sources.join(", ")}` : ""}`);
}

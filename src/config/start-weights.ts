import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { ConfigError } from "./load.ts";

/** The setting whose files are pinned: a training config's start weights (training.schema.json). */
const KEY = "startWeights";

/** SHA-256 of some bytes, in hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** SHA-256 of a file, in hex. */
export function fileSha256(path: string): string {
  return sha256Hex(readFileSync(path));
}

/**
 * Pins every `startWeights` setting of a config, at any depth: the path made absolute and
 * the file's SHA-256 filled in, so that a unit's identity names the weights it starts
 * from and a file changed after planning is caught. A missing file, or a sha256 given
 * that is not the file's, is a ConfigError naming the setting.
 */
export function pinStartWeights(cfg: unknown, at: string[] = []): void {
  if (typeof cfg !== "object" || cfg === null) return;
  for (const [k, v] of Object.entries(cfg)) {
    if (k === KEY && typeof v === "object" && v !== null && typeof (v as { path?: unknown }).path === "string") {
      const sw = v as { path: string; sha256?: string };
      const setting = [...at, KEY].join(".");
      const path = resolve(sw.path);
      if (!existsSync(path) || !statSync(path).isFile())
        throw new ConfigError(`${setting}.path: no file ${path}; give a PyTorch state_dict (.pt), a NumPy .npz or an .onnx file`);
      const sha256 = fileSha256(path);
      if (sw.sha256 !== undefined && sw.sha256 !== sha256)
        throw new ConfigError(
          `${setting}.sha256: ${path} has SHA-256 ${sha256}, not the ${sw.sha256} given; the file changed, so remove the sha256 setting to start from it as it is now`,
        );
      Object.assign(sw, { path, sha256 });
    } else pinStartWeights(v, [...at, k]);
  }
}

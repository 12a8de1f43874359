import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readStateDict, writeStateDict } from "../../src/weights/torch-pt.ts";

/**
 * Runs test/fixtures/torch_reference_models.py: "load" loads `state` strictly into the
 * reference model, "save" writes a seeded reference model's state_dict to `state` (with a
 * DataParallel prefix and one conv pruned by torch.nn.utils.prune); either way the
 * model's eval-mode logits of `x` (written here as a .pt) come back.
 */
export function torchReference(o: {
  python: string;
  dir: string;
  mode: "load" | "save";
  family: string;
  depth: number;
  width: number;
  classes: number;
  state: string;
  x: Float32Array;
  shape: number[];
  seed?: number;
}): Float32Array {
  const tag = `${o.family}-${o.depth}-${o.mode}`;
  const xFile = join(o.dir, `x-${tag}.pt`),
    out = join(o.dir, `out-${tag}.pt`);
  writeFileSync(xFile, writeStateDict([["x", { dtype: "float32", shape: o.shape, data: o.x }]]));
  const script = join(import.meta.dir, "../fixtures/torch_reference_models.py");
  const args = [o.mode, o.family, o.depth, o.width, o.classes, o.state, xFile, out, o.seed ?? 0].map(String);
  const r = Bun.spawnSync([o.python, script, ...args], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`reference ${o.mode} ${o.family}-${o.depth} failed: ${r.stderr.toString()}`);
  return readStateDict(readFileSync(out)).get("logits")!.data as Float32Array;
}

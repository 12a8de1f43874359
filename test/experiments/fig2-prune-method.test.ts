/** repro:fig2's prune.method: the paper's pruning keeps its units, any registered one-shot method replaces it in every cell. */
import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Fig2Config } from "../../src/config/generated/fig2.ts";
import type { RetrainUnitConfig } from "../../src/config/generated/retrain-unit.ts";
import { validateConfig } from "../../src/config/load.ts";
import { loadPresetConfig } from "../../src/config/presets.ts";
import { planFig2 } from "../../src/experiments/fig2.ts";
import { resolvePrune } from "../../src/experiments/fig2-settings.ts";
import { randomMasks } from "../../src/prune/random.ts";
import { loadCheckpoint } from "../../src/train/checkpoint.ts";
import { trainImagesOf } from "../../src/train/setup.ts";

const REPO = join(import.meta.dir, "../..");

const planOf = (cfg: Fig2Config) => planFig2({ ...cfg, prune: resolvePrune(cfg) }, trainImagesOf(cfg.dense, null));
const retrainIds = (cfg: Fig2Config) =>
  planOf(cfg)
    .units.filter((u) => u.kind === "retrain")
    .map((u) => u.id);

test("the paper's pruning plans the very units of the committed report (reports/fig2.json), so its run stores stay valid", () => {
  const json = JSON.parse(readFileSync(join(REPO, "reports/fig2.json"), "utf8")) as {
    config: Fig2Config;
    units: Record<string, { retrains: string[]; cell: string }[]>;
  };
  const cfg = validateConfig<Fig2Config>("fig2", json.config);
  const planned = Object.fromEntries(
    planOf(cfg).grid.map((g) => [`${g.value}@${g.density}`, g.bySeed.map((s) => ({ retrains: s.retrains.map((r) => r.unit.id), cell: s.cell.id }))]),
  );
  const committed = Object.fromEntries(Object.entries(json.units).map(([k, v]) => [k, v.map((s) => ({ retrains: s.retrains, cell: s.cell }))]));
  expect(Object.keys(committed).length).toBeGreaterThan(0);
  expect(planned).toEqual(committed);
  // Naming the paper's method changes nothing.
  expect(retrainIds(validateConfig<Fig2Config>("fig2", { ...json.config, prune: { method: "layerwise-magnitude" } }))).toEqual(retrainIds(cfg));
});

test("another method: every retrained unit names it with its settings (defaults filled) and prunes with its dense seed, so the retrain seeds share one mask", () => {
  const base = loadPresetConfig<Fig2Config>("fig2", "fig2", "quick", ["seeds.dense=1,2"]);
  const cfg = loadPresetConfig<Fig2Config>("fig2", "fig2", "quick", ["seeds.dense=1,2", "prune.method=weight-gradient", "prune.settings.images=64"]);
  const { units, grid } = planOf(cfg);
  const retrains = units.filter((u) => u.kind === "retrain");
  for (const g of grid)
    for (const s of g.bySeed)
      for (const r of s.retrains) {
        const c = r.unit.config as RetrainUnitConfig;
        expect([c.method, c.methodSettings, c.maskSeed]).toEqual(["weight-gradient", { images: 64, scope: "layer" }, s.denseSeed]);
      }
  expect(retrains[0]!.label).toContain(" weight-gradient ");
  // Different units from the paper's, and cells of their own.
  const paper = new Set(retrainIds(base));
  expect(retrains.some((u) => paper.has(u.id))).toBe(false);
  expect(retrains.length).toBe(paper.size);
});

test("an unknown method or a bad setting is refused before anything runs, naming the setting and what is registered", () => {
  const cfg = (...o: string[]) => resolvePrune(loadPresetConfig<Fig2Config>("fig2", "fig2", "smoke", o));
  expect(() => cfg("prune.method=snip")).toThrow('prune.method: unknown one-shot pruning method "snip"; registered: layerwise-magnitude, global-magnitude');
  expect(() => cfg("prune.method=weight-gradient", "prune.settings.images=0")).toThrow(
    "invalid prune.settings (one-shot-weight-gradient):\n  - images: expected >= 1, given 0",
  );
  expect(() => cfg("prune.method=global-magnitude", "prune.settings.images=3")).toThrow(
    'prune.settings: the one-shot method "global-magnitude" takes no settings',
  );
  expect(cfg()).toEqual({ method: "layerwise-magnitude", settings: {} });
  const r = Bun.spawnSync([process.execPath, join(REPO, "repro/fig2.ts"), "--preset", "smoke", "--dry-run", "--set", "prune.method=snip"], {
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(r.exitCode).toBe(2);
  expect(r.stderr.toString()).toContain('prune.method: unknown one-shot pruning method "snip"');
});

test("repro:fig2 --preset smoke --set prune.method=random: the report names the method; each dense seed's retrained models share the layer-wise uniform mask drawn from it", () => {
  const dir = mkdtempSync(join(tmpdir(), "fig2-random-"));
  try {
    const args = [
      "--preset",
      "smoke",
      "--set",
      "prune.method=random",
      "--set",
      "densities=0.5",
      "--set",
      "temperature.epochs=2",
      "--runs-dir",
      join(dir, "runs"),
      "--report-dir",
      join(dir, "reports"),
    ];
    const r = Bun.spawnSync([process.execPath, join(REPO, "repro/fig2.ts"), ...args], { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`repro:fig2 failed (${r.exitCode}): ${r.stderr.toString().slice(-2000)}`);
    const md = readFileSync(join(dir, "reports/fig2.md"), "utf8");
    expect(md).toContain("- Load: one-shot random (`random`) pruning of every conv layer (not fc, not BN) to densities 50%.");
    expect(md).toContain("pruned by random (random) instead of layer-wise L1 magnitude");
    const runs = join(dir, "runs");
    const retrains = readdirSync(runs).filter((d) => d.startsWith("retrain-") && existsSync(join(runs, d, "model.ckpt")));
    expect(retrains.length).toBe(3);
    for (const id of retrains) {
      const ck = loadCheckpoint(join(runs, id, "model.ckpt"));
      const layers = Object.keys(ck.masks);
      // All 21 convs of PreResNet-20 (19 3x3, 2 shortcut 1x1), as the paper prunes.
      expect(layers.length).toBe(21);
      // Drawn by hand from the dense seed (1): the same for every retrain seed.
      const want = randomMasks(ck.state.params, layers, 0.5, 1);
      for (const l of layers) expect(Buffer.from(ck.masks[l]!.buffer).equals(Buffer.from(want[l]!.buffer))).toBe(true);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

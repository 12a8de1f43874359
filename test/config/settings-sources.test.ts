import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Fig2Config } from "../../src/config/generated/fig2.ts";
import { applyOverride, ConfigError, settingSchema, topLevelSettings } from "../../src/config/load.ts";
import { loadPresetConfig, readConfigFile } from "../../src/config/presets.ts";

const dir = mkdtempSync(join(tmpdir(), "settings-"));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

test("a list setting takes comma-separated values, a single value or JSON; other settings keep their text", () => {
  const o: Record<string, unknown> = {};
  applyOverride(o, "densities=0.1,0.2", "fig2");
  applyOverride(o, "seeds.retrain=7", "fig2");
  applyOverride(o, "dense.data.dataDir=/data/a,b", "fig2");
  applyOverride(o, "dense.optim.schedule.milestones=[0.3, 0.6]", "fig2");
  applyOverride(o, "dense.optim.epochs=12", "fig2");
  expect(o).toEqual({
    densities: [0.1, 0.2],
    seeds: { retrain: [7] },
    dense: { data: { dataDir: "/data/a,b" }, optim: { schedule: { milestones: [0.3, 0.6] }, epochs: 12 } },
  });
  const b: Record<string, unknown> = {};
  applyOverride(b, "methods=imp, bip", "bip-bench");
  applyOverride(b, "sparsities=", "bip-bench");
  expect(b).toEqual({ methods: ["imp", "bip"], sparsities: [] });
  // Without the schema nothing is split: the old behaviour, kept for callers that have none.
  const c: Record<string, unknown> = {};
  applyOverride(c, "densities=0.1,0.2");
  expect(c).toEqual({ densities: "0.1,0.2" });
});

test("setting schemas are found through $refs into other files", () => {
  expect(settingSchema("fig2", ["dense", "optim", "schedule", "milestones"])?.type).toBe("array");
  expect(settingSchema("bip-bench", ["bip", "maskLrMilestones"])?.type).toBe("array");
  expect(settingSchema("fig2", ["dense", "nope"])).toBeUndefined();
  const names = topLevelSettings("fig2").map((s) => s.name);
  expect(names).toEqual(["temperature", "densities", "prune", "seeds", "dense", "denseTestEveryEpoch", "retrain", "metrics", "regimes", "verdicts"]);
  for (const s of topLevelSettings("fig2")) expect(s.description.length).toBeGreaterThan(5);
});

test("settings merge preset < config files in order < --set", () => {
  const a = file("a.json", JSON.stringify({ densities: [0.3], dense: { optim: { epochs: 7, batchSize: 32 } } }));
  const b = file("b.json", JSON.stringify({ densities: [0.4, 0.5], dense: { optim: { epochs: 9 } } }));
  const preset = loadPresetConfig<Fig2Config>("fig2", "fig2", "smoke");
  const cfg = loadPresetConfig<Fig2Config>("fig2", "fig2", "smoke", ["dense.optim.epochs=11"], [a, b]);
  expect(cfg.densities).toEqual([0.4, 0.5]);
  expect(cfg.dense.optim.epochs).toBe(11);
  expect(cfg.dense.optim.batchSize).toBe(32);
  // What no source sets comes from the preset.
  expect(cfg.dense.model).toEqual(preset.dense.model);
  expect(cfg.seeds).toEqual(preset.seeds);
});

test("a bad config file is a ConfigError that names it", () => {
  expect(() => readConfigFile(join(dir, "missing.json"))).toThrow(/--config .*missing\.json: cannot read it \(ENOENT\)/);
  expect(() => readConfigFile(file("bad.json", "{densities: }"))).toThrow(/bad\.json: not valid JSON/);
  expect(() => readConfigFile(file("list.json", "[1, 2]"))).toThrow(/list\.json: expected a JSON object of settings/);
  const unknown = file("unknown.json", JSON.stringify({ densitys: [0.5] }));
  expect(() => loadPresetConfig("fig2", "fig2", "smoke", [], [unknown])).toThrow(ConfigError);
  expect(() => loadPresetConfig("fig2", "fig2", "smoke", [], [unknown])).toThrow(/with --config .*unknown\.json[\s\S]*densitys: unknown setting/);
});

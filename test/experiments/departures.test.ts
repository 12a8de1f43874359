import { expect, test } from "bun:test";
import type { BipBenchConfig } from "../../src/config/generated/bip-bench.ts";
import type { Fig2Config } from "../../src/config/generated/fig2.ts";
import { loadPresetConfig } from "../../src/config/presets.ts";
import { scaledDownFromPaper } from "../../src/experiments/bip-vs-imp.ts";
import { scaledDown } from "../../src/experiments/fig2-settings.ts";

/** What a report lists as "scaled down from the paper's protocol", from the settings against the paper preset's. */
const fig2 = (over: string[]) => loadPresetConfig<Fig2Config>("fig2", "fig2", "paper", over);
const bip = (over: string[]) => loadPresetConfig<BipBenchConfig>("bip-vs-imp", "bip-bench", "paper", over);

test("the paper presets depart from nothing", () => {
  expect(scaledDown(fig2([]), "cifar10")).toEqual([]);
  expect(scaledDownFromPaper(bip([]), "cifar10")).toEqual([]);
});

test("another model is named at the depth it trains, and its width beside it", () => {
  expect(scaledDown(fig2(["dense.model.depth=56", "dense.model.width=8"]), "cifar10")).toEqual([
    "preresnet56 instead of the paper's preresnet20",
    "preresnet56 width 8 instead of 16",
  ]);
  // The name's own depth, said the same way.
  expect(scaledDown(fig2(["dense.model.arch=preresnet20", "dense.model.depth=20"]), "cifar10")).toEqual([]);
  expect(scaledDownFromPaper(bip(["dense.model.arch=resnet20a", "dense.model.width=16"]), "cifar10")).toEqual([
    "resnet20a instead of the speedup figure's resnet18",
    "resnet20a width 16 instead of 64",
  ]);
});

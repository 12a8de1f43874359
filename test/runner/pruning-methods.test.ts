import { expect, test } from "bun:test";
import type { UnitRecord } from "../../src/config/generated/record.ts";
import { validateConfig } from "../../src/config/load.ts";
import type { BipBenchConfig } from "../../src/config/generated/bip-bench.ts";
import { methodPoint } from "../../src/experiments/bip-vs-imp.ts";
import { PRUNING_METHODS, pruningMethod, type AllMethodSettings } from "../../src/runner/kinds/methods/registry.ts";
import { getKind } from "../../src/runner/kinds/registry.ts";
import { mkUnit } from "../../src/runner/unit.ts";

const bench = validateConfig<BipBenchConfig>("bip-bench", { sparsities: [0.2, 0.59], seeds: [1] });
const settings: AllMethodSettings = bench;
const dense = mkUnit("dense", { training: bench.dense, snapshots: [3, 160] }, [], "dense");
const plan = (name: string) =>
  pruningMethod(name).plan({ dense, training: { ...bench.dense, seed: 7 }, finalEpoch: 160, sparsities: bench.sparsities, settings, unit: mkUnit });

test("every registered method names its kinds, which the runner can look up, and describes itself", async () => {
  for (const [name, m] of Object.entries(PRUNING_METHODS)) {
    expect(m.name).toBe(name);
    for (const k of m.kinds) {
      expect(await getKind(k.name)).toBe(k as never);
      expect(k.schema).toBeDefined();
    }
  }
  // The claims compare the points labelled "IMP" and "BiP"; the report's rows and columns need every label once.
  const labels = Object.values(PRUNING_METHODS).map((m) => m.label);
  expect([PRUNING_METHODS.imp!.label, PRUNING_METHODS.bip!.label]).toEqual(["IMP", "BiP"]);
  expect(new Set(labels).size).toBe(labels.length);
  // A description follows the settings: IMP's names its rate and rewind epoch.
  const imp = PRUNING_METHODS.imp!.describe({ ...settings, impRate: 0.3, rewindEpoch: 5 });
  expect(imp).toContain("30% of the remaining conv weights per round, rewind to epoch 5");
  // The default methods of the bench are registered ones.
  for (const m of bench.methods) expect(() => pruningMethod(m)).not.toThrow();
});

test("an unknown method is an error that names the setting and the registered methods", () => {
  expect(() => pruningMethod("synflow")).toThrow(/methods: unknown pruning method "synflow"; registered: imp, omp, bip, bip-filter, random/);
});

test("IMP plans one chain of rounds per seed; a target's subnetwork is the round that reaches it", () => {
  const p = plan("imp");
  // 59% needs 4 rounds at 20% per round (1 - 0.8^4 = 59.0%).
  expect(p.units.map((u) => (u.config as { round: number }).round)).toEqual([1, 2, 3, 4]);
  expect(p.chain(0.2)).toEqual(p.units.slice(0, 1));
  expect(p.chain(0.59)).toEqual(p.units);
  // Each round reads the dense run and the round before it.
  expect(p.units[0]!.deps).toEqual([dense.id]);
  expect(p.units[3]!.deps).toEqual([dense.id, p.units[2]!.id]);
  expect(new Set(p.units.map((u) => (u.config as { training: { seed: number } }).training.seed))).toEqual(new Set([7]));
});

test("OMP, BiP and filter-wise BiP plan one unit per target; filter-wise BiP differs only in its structure", () => {
  for (const name of ["omp", "bip", "bip-filter"]) {
    const p = plan(name);
    expect(p.units.length).toBe(2);
    expect(p.chain(0.59)).toEqual([p.units[1]!]);
    expect(p.units.map((u) => (u.config as { sparsity: number }).sparsity)).toEqual([0.2, 0.59]);
  }
  const bip = plan("bip").units[0]!.config as { bip: { structure: string } },
    filter = plan("bip-filter").units[0]!.config as { bip: { structure: string } };
  expect([bip.bip.structure, filter.bip.structure]).toEqual(["unstructured", "filter"]);
  expect({ ...filter, bip: { ...filter.bip, structure: "unstructured" } }).toEqual(bip);
});

test("random pruning plans OMP's units with method random: the same fine-tuning, another mask; OMP's ids leave the method out", () => {
  const omp = plan("omp").units,
    random = plan("random").units;
  expect(random.map((u) => u.kind)).toEqual(["omp", "omp"]);
  expect(random.map((u) => u.config)).toEqual(omp.map((u) => ({ ...(u.config as object), method: "random" })));
  expect(omp.every((u) => !("method" in (u.config as object)))).toBe(true);
  expect(random.map((u) => u.deps)).toEqual(omp.map((u) => u.deps));
});

const rec = (wallSeconds: number, metrics: Record<string, unknown>) => ({ wallSeconds, metrics }) as unknown as UnitRecord;

test("a method's point adds up its chain's times and keeps only seeds whose chain completed with an accuracy", () => {
  const chains = [
    [rec(10, { sparsity: 0.2 }), rec(20, { sparsity: 0.36, finalTestAccuracy: 0.9, testAccuracyRunningBn: 0.88 })],
    [rec(11, { sparsity: 0.2 }), undefined],
    [rec(12, { sparsity: 0.2 }), rec(22, { sparsity: 0.38, finalTestAccuracy: null })],
    [rec(13, { sparsity: 0.2 }), rec(23, { sparsity: 0.4, finalTestAccuracy: 0.8 })],
  ];
  const [p] = methodPoint("IMP", 0.36, chains);
  expect(p!.seconds).toEqual([30, 36]);
  expect(p!.accuracies).toEqual([0.9, 0.8]);
  expect(p!.sparsity).toBeCloseTo(0.38, 12);
  // One seed lacks the running-BN accuracy, so the column is left out rather than half-filled.
  expect(p!.accuraciesRunningBn).toBeUndefined();
  expect(methodPoint("IMP", 0.36, [chains[1]!, chains[2]!])).toEqual([]);
});

test("GraSP plans one unit per target from a fresh initialisation (no dependency) trained as the dense run; Hydra one per target from the pretrained model, fine-tuned with hydra.finetune", () => {
  const grasp = plan("grasp").units;
  expect(grasp.map((u) => [u.kind, u.deps])).toEqual([
    ["grasp", []],
    ["grasp", []],
  ]);
  const g = grasp[1]!.config as { training: { optim: unknown; seed: number }; sparsity: number; samplesPerClass: number };
  expect([g.training.optim, g.training.seed, g.sparsity, g.samplesPerClass]).toEqual([bench.dense.optim, 7, 0.59, bench.grasp.samplesPerClass]);
  const hydra = plan("hydra").units;
  expect(hydra.map((u) => [u.kind, u.deps])).toEqual([
    ["hydra", [dense.id]],
    ["hydra", [dense.id]],
  ]);
  const h = hydra[0]!.config as { training: { optim: unknown }; scores: unknown; finalEpoch: number };
  expect([h.training.optim, h.scores, h.finalEpoch]).toEqual([bench.hydra.finetune, bench.hydra.scores, 160]);
});

test("any one-shot method of src/prune/one-shot.ts runs in the bench as OMP does: its name and settings (defaults filled) in OMP's units, checked where they are set", () => {
  const omp = plan("omp").units;
  const wg = pruningMethod("weight-gradient").plan({
    dense,
    training: { ...bench.dense, seed: 7 },
    finalEpoch: 160,
    sparsities: bench.sparsities,
    settings: { ...settings, oneShot: { "weight-gradient": { images: 64 } } },
    unit: mkUnit,
  }).units;
  expect(wg.map((u) => u.kind)).toEqual(["omp", "omp"]);
  expect(wg.map((u) => u.config)).toEqual(
    omp.map((u) => ({ ...(u.config as object), method: "weight-gradient", methodSettings: { images: 64, scope: "layer" } })),
  );
  expect(pruningMethod("weight-gradient").label).toBe("One-shot weight x gradient");
  expect(pruningMethod("weight-gradient").describe(settings)).toContain('(`weight-gradient`, images 512, scope "layer"; unstructured');
  // A method without settings plans no methodSettings; global-magnitude is OMP, the same units.
  expect(plan("layerwise-magnitude").units.map((u) => u.config)).toEqual(omp.map((u) => ({ ...(u.config as object), method: "layerwise-magnitude" })));
  expect(plan("global-magnitude").units.map((u) => u.id)).toEqual(omp.map((u) => u.id));
  expect(() =>
    pruningMethod("weight-gradient").plan({
      dense,
      training: bench.dense,
      finalEpoch: 160,
      sparsities: [0.5],
      settings: { ...settings, oneShot: { "weight-gradient": { images: 0 } } },
      unit: mkUnit,
    }),
  ).toThrow("invalid oneShot.weight-gradient (one-shot-weight-gradient):\n  - images: expected >= 1, given 0");
  expect(() => pruningMethod("synflow")).toThrow(/or any one-shot method: layerwise-magnitude, global-magnitude, random, block-channels-l1, weight-gradient/);
});

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateConfig } from "../../src/config/load.ts";
import type { TrainingConfig } from "../../src/config/generated/training.ts";
import { makeSynthetic } from "../../src/data/synthetic.ts";
import type { Dataset } from "../../src/data/types.ts";
import { createPack, createTrainer, type EngineChoice } from "../../src/engine/registry.ts";
import { freshState } from "../../src/engine/state.ts";
import { probeTorch } from "../../src/engine/torch/detect.ts";
import { cloneState, type PackMember, type Tensors } from "../../src/engine/types.ts";
import { buildModel } from "../../src/models/registry.ts";
import { prunableLayers, type ModelSpec } from "../../src/models/spec.ts";
import { trainPack, type PackMemberOutcome } from "../../src/train/pack-loop.ts";
import { trainLoop, type TrainOutcome } from "../../src/train/train-loop.ts";
import { Rng } from "../../src/util/rng.ts";
import { optim, TEST_TORCH_DEVICE } from "../helpers/tiny-models.ts";

// Real packs train here, and the torch engines start a Python server (about a second on a
// quiet machine, several in a loaded CI container): the 5 s default is too tight.
setDefaultTimeout(60_000);

/**
 * Packed training (src/train/pack-loop.ts) against the same models trained alone by
 * trainLoop, in every pack class: the torch engine's grouped model within a float
 * tolerance, the ONNX engine's loop and one-graph packs bit for bit.
 */
const probe = await probeTorch();
const python = "found" in probe ? probe.found.python : null;

const data: Dataset = makeSynthetic({ count: 40, testCount: 12, channels: 3, size: 8, numClasses: 5, seed: 3 });
// Both architectures: PreResNet's conv shortcuts and ResNet-20's option-A (padded) shortcuts.
const specs: ModelSpec[] = [
  buildModel("preresnet20", { width: 4, inputShape: [3, 8, 8], numClasses: 5 }),
  buildModel("resnet20a", { width: 4, inputShape: [3, 8, 8], numClasses: 5 }),
];
const augment = { cropPadding: 2, flip: true };
const optimCfg = {
  ...validateConfig<TrainingConfig>("training", {}).optim,
  epochs: 2,
  batchSize: 16,
  lr: 0.05,
  momentum: optim.sgd.momentum,
  weightDecay: optim.sgd.weightDecay,
};
const seeds = [11, 12, 13];

/** Member k: its own start weights, its own random mask (a different density each). */
function members(spec = specs[0]!): PackMember[] {
  return seeds.map((seed, k) => {
    const state = freshState(spec, seed);
    const masks: Tensors = {};
    for (const l of prunableLayers(spec)) {
      const rng = new Rng(seed, "mask", l.name);
      masks[l.name] = state.params[l.name]!.map(() => (rng.next() < 0.2 + 0.2 * k ? 0 : 1));
    }
    return { state, masks };
  });
}

/**
 * One entry per pack class: LoopPack (the ONNX engine's loop; the torch and TF.js loops
 * are the same LoopPack around those engines' own trainers, which their parity suites
 * test), the ONNX one-graph pack and the torch grouped pack.
 */
const engines: { name: string; choice: EngineChoice; tolerance: number; skip: boolean }[] = [
  { name: "onnx", choice: { engine: "onnx", provider: "cpu" }, tolerance: 0, skip: false },
  { name: "onnx one-graph", choice: { engine: "onnx", provider: "cpu", packFormulation: "grouped" }, tolerance: 0, skip: false },
  // PRUNING_HARNESS_TEST_TORCH_DEVICE=cuda (scripts/gpu-check.sh) runs the torch packs on the GPU, deterministic cuDNN.
  {
    name: "torch",
    choice: { engine: "torch", device: TEST_TORCH_DEVICE, python: python ?? undefined, cudnnDeterministic: TEST_TORCH_DEVICE !== "cpu" },
    tolerance: 1e-5,
    skip: !python,
  },
];

const trainerOpts = { spec: specs[0]!, ...optim, threads: 1 };

async function alone(choice: EngineChoice, m: PackMember, seed: number, spec = specs[0]!): Promise<{ out: TrainOutcome; state: PackMember }> {
  const t = await createTrainer(choice, { ...trainerOpts, spec }, cloneState(m.state));
  try {
    for (const [k, v] of Object.entries(m.masks)) t.masks[k] = v;
    const out = await trainLoop({ trainer: t, data, optim: optimCfg, augment, seed });
    return { out, state: { state: cloneState(t.state), masks: { ...t.masks } } };
  } finally {
    await t.dispose();
  }
}

function packed(
  choice: EngineChoice,
  ms: PackMember[],
  extra: { dir?: string; stopAfterEpochs?: number; packs?: number[][]; spec?: ModelSpec } = {},
): Promise<PackMemberOutcome[]> {
  return trainPack({
    makePack: (cur) =>
      createPack(
        choice,
        { ...trainerOpts, spec: extra.spec ?? specs[0]! },
        cur.map((m) => ({ state: cloneState(m.state), masks: m.masks })),
      ),
    members: ms.map((m, k) => ({ seed: seeds[k]!, start: m, ...(extra.dir ? { checkpointPath: join(extra.dir, `m${k}.ckpt`) } : {}) })),
    data,
    optim: optimCfg,
    augment,
    stopAfterEpochs: extra.stopAfterEpochs,
    onPack: (p) => extra.packs?.push(p.members),
  });
}

/** max |a - b| / max |b| over a tensor, the largest over all tensors. */
function worstRel(a: Tensors, b: Tensors): number {
  let worst = 0;
  for (const [k, v] of Object.entries(b)) {
    const x = a[k]!;
    let d = 0,
      m = 0;
    for (let i = 0; i < v.length; i++) {
      d = Math.max(d, Math.abs(x[i]! - v[i]!));
      m = Math.max(m, Math.abs(v[i]!));
    }
    if (Number.isNaN(d)) return Infinity;
    worst = Math.max(worst, m > 0 ? d / m : d);
  }
  return worst;
}

for (const e of engines) {
  describe.skipIf(e.skip)(`packed training, ${e.name} engine`, () => {
    test.each(specs.map((sp) => [sp.arch, sp] as const))(
      `%s: 3 members trained together end where each trained alone ends (${e.tolerance ? `within ${e.tolerance} relative` : "bit for bit"}); masks unchanged`,
      async (_arch, sp) => {
        const ms = members(sp);
        const got = await packed(e.choice, ms, { spec: sp });
        for (let k = 0; k < ms.length; k++) {
          const want = await alone(e.choice, ms[k]!, seeds[k]!, sp);
          const g = got[k]!;
          expect(g.outcome.status).toBe("done");
          // Momentum is a running sum of gradients, whose rounding differences it carries:
          // it gets 10x the weights' tolerance.
          for (const [group, tol] of [
            ["params", e.tolerance],
            ["buffers", e.tolerance],
            ["momentum", 10 * e.tolerance],
          ] as const) {
            const rel = worstRel(g.final.state[group], want.state.state[group]);
            if (process.env.SHOW_REL) console.log(e.name, sp.arch, k, group, rel);
            if (rel > tol) throw new Error(`member ${k} ${group}: relative difference ${rel} > ${tol}`);
          }
          for (const [l, m] of Object.entries(ms[k]!.masks)) expect(Buffer.from(g.final.masks[l]!.buffer).equals(Buffer.from(m.buffer))).toBe(true);
          // Each member saw its own seed's batches: the same training losses epoch by epoch.
          g.outcome.epochs.forEach((r, i) => {
            const w = want.out.epochs[i]!.trainLoss;
            expect(Math.abs(r.trainLoss - w)).toBeLessThanOrEqual(e.tolerance ? 1e-4 * w : 0);
          });
          expect(g.outcome.epochs.map((r) => r.testAccuracy)).toEqual(want.out.epochs.map((r) => r.testAccuracy));
        }
        // The members did train apart: their weights differ from each other.
        expect(worstRel(got[0]!.final.state.params, got[1]!.final.state.params)).toBeGreaterThan(1e-2);
      },
      120_000,
    );

    test("a pack stopped after one epoch and resumed ends where the uninterrupted pack ends, bit for bit", async () => {
      const dir = mkdtempSync(join(tmpdir(), "pack-resume-"));
      try {
        const whole = await packed(e.choice, members());
        const first = await packed(e.choice, members(), { dir, stopAfterEpochs: 1 });
        expect(first.every((r) => r.outcome.epochs.length === 1)).toBe(true);
        const resumed = await packed(e.choice, members(), { dir });
        for (let k = 0; k < seeds.length; k++) {
          expect(resumed[k]!.outcome.resumedFrom).toBe(1);
          expect(worstRel(resumed[k]!.final.state.params, whole[k]!.final.state.params)).toBe(0);
          expect(worstRel(resumed[k]!.final.state.buffers, whole[k]!.final.state.buffers)).toBe(0);
          expect(resumed[k]!.outcome.epochs).toHaveLength(2);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 120_000);

    test("a member whose loss is not finite leaves the pack with its divergence recorded; the others end as they would alone", async () => {
      const ms = members();
      // Member 1 starts from weights that overflow: its first loss is not finite.
      const bad = ms[1]!.state.params;
      for (const k of Object.keys(bad)) if (k.endsWith("weight")) bad[k] = bad[k]!.map((v) => v * 1e30);
      const packs: number[][] = [];
      const got = await packed(e.choice, ms, { packs });
      const d = got[1]!.outcome;
      expect(d.status).toBe("diverged");
      if (d.status === "diverged") expect(d.divergedAt).toMatchObject({ epoch: 1, step: 1 });
      expect(packs).toEqual([
        [0, 1, 2],
        [0, 2],
      ]);
      for (const k of [0, 2]) {
        const want = await alone(e.choice, ms[k]!, seeds[k]!);
        expect(got[k]!.outcome.status).toBe("done");
        const rel = worstRel(got[k]!.final.state.params, want.state.state.params);
        if (rel > e.tolerance) throw new Error(`member ${k}: relative difference ${rel} > ${e.tolerance}`);
      }
    }, 120_000);
  });
}

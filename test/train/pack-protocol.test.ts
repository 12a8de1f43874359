import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TrainingConfig } from "../../src/config/generated/training.ts";
import { validateConfig } from "../../src/config/load.ts";
import { trainBatches } from "../../src/data/batches.ts";
import { makeSynthetic } from "../../src/data/synthetic.ts";
import { createPack, createTrainer } from "../../src/engine/registry.ts";
import { freshState } from "../../src/engine/state.ts";
import { cloneState, type PackMember, type PackTrainer, type Tensors } from "../../src/engine/types.ts";
import { buildModel } from "../../src/models/registry.ts";
import { prunableLayers } from "../../src/models/spec.ts";
import { loadCheckpoint } from "../../src/train/checkpoint.ts";
import { packRequest, trainPack, type PackMemberRun } from "../../src/train/pack-loop.ts";
import { trainLoop, type EpochRecord, type TrainOutcome } from "../../src/train/train-loop.ts";
import { Rng } from "../../src/util/rng.ts";
import { withHostResidentPack } from "../helpers/host-resident.ts";
import { optim } from "../helpers/tiny-models.ts";

setDefaultTimeout(60_000);

/**
 * The pack loop's own protocol (src/train/pack-loop.ts) on the ONNX engine's loop pack,
 * plain and behind a host-side resident stand-in (test/helpers/host-resident.ts): who
 * trains together, how a request's steps are accounted, divergence, resuming, records.
 * Every member must end where trainLoop alone ends, bit for bit. (pack-loop.test.ts
 * checks the same end points in every engine and formulation; it is slow.)
 */
// 21 images in batches of 8: steps of 8, 8 and 5 images.
const data = makeSynthetic({ count: 21, testCount: 7, channels: 3, size: 8, numClasses: 3, seed: 5 });
const spec = buildModel("preresnet20", { width: 4, inputShape: [3, 8, 8], numClasses: 3 });
const augment = { cropPadding: 1, flip: true };
const optimCfg: TrainingConfig["optim"] = { ...validateConfig<TrainingConfig>("training", {}).optim, epochs: 2, batchSize: 8, lr: 0.05, ...optim.sgd };
const seeds = [21, 22, 23];
const opts = { spec, ...optim, threads: 1 };
const choice = { engine: "onnx" as const, provider: "cpu" as const, packFormulation: "loop" as const };

function members(): PackMember[] {
  return seeds.map((seed, k) => {
    const state = freshState(spec, seed);
    const masks: Tensors = {};
    for (const l of prunableLayers(spec)) {
      const rng = new Rng(seed, "mask", l.name);
      masks[l.name] = state.params[l.name]!.map(() => (rng.next() < 0.1 + 0.2 * k ? 0 : 1));
    }
    return { state, masks };
  });
}

async function alone(
  m: PackMember,
  seed: number,
  o: { checkpointPath?: string; stopAfterEpochs?: number } = {},
): Promise<{ out: TrainOutcome; params: Tensors }> {
  const t = await createTrainer({ engine: "onnx", provider: "cpu" }, opts, cloneState(m.state));
  try {
    for (const [k, v] of Object.entries(m.masks)) t.masks[k] = v;
    const out = await trainLoop({ trainer: t, data, optim: optimCfg, augment, seed, ...o });
    return { out, params: t.state.params };
  } finally {
    await t.dispose();
  }
}

const same = (a: Tensors, b: Tensors) =>
  Object.keys(b).every((k) =>
    Buffer.from(a[k]!.buffer, a[k]!.byteOffset, a[k]!.byteLength).equals(Buffer.from(b[k]!.buffer, b[k]!.byteOffset, b[k]!.byteLength)),
  );
/** Records without their wall time. */
const untimed = (r: EpochRecord[]) => r.map(({ seconds: _, ...rest }) => rest);

/** trainPack over `ms`; `stepsPerRequest` wraps each pack in the resident stand-in. */
async function packed(
  ms: PackMember[],
  o: {
    stepsPerRequest?: number;
    dir?: string;
    evalAt?: (e: number) => boolean;
    steps?: number[][];
    runs?: Partial<PackMemberRun>[];
    stopAfterEpochs?: number;
  } = {},
) {
  const packs: number[][] = [];
  const made: PackTrainer[] = [];
  const out = await trainPack({
    makePack: async (cur) => {
      const p = await createPack(
        choice,
        opts,
        cur.map((m) => ({ state: cloneState(m.state), masks: m.masks })),
      );
      const q = o.stepsPerRequest === undefined ? p : withHostResidentPack(p, o.stepsPerRequest);
      made.push(q);
      return q;
    },
    members: ms.map((m, k) => ({
      seed: seeds[k]!,
      start: m,
      ...(o.dir ? { checkpointPath: join(o.dir, `m${k}.ckpt`) } : {}),
      ...(o.steps ? { onStep: (s) => o.steps![k]!.push(s.step) } : {}),
      ...o.runs?.[k],
    })),
    data,
    optim: optimCfg,
    augment,
    evalAt: o.evalAt,
    stopAfterEpochs: o.stopAfterEpochs,
    onPack: (p) => packs.push(p.members),
  });
  return { out, packs, made };
}

describe("trainPack", () => {
  test("a resident pack, 2 steps per request: each member ends where it ends alone, records included; the requests carry each member's own plans", async () => {
    const ms = members();
    const steps: number[][] = seeds.map(() => []);
    const { out, packs, made } = await packed(ms, { stepsPerRequest: 2, steps });
    expect(packs).toEqual([[0, 1, 2]]);
    for (let k = 0; k < seeds.length; k++) {
      const want = await alone(ms[k]!, seeds[k]!);
      expect(out[k]!.outcome.status).toBe("done");
      expect(same(out[k]!.final.state.params, want.params)).toBe(true);
      expect(untimed(out[k]!.outcome.epochs)).toEqual(untimed(want.out.epochs));
      expect(steps[k]).toEqual([1, 2, 3, 1, 2, 3]);
    }
    // Per epoch: steps [0, 1] then [2]; member k's plans are its seed's.
    const reqs = (made[0] as unknown as { requests: { plans: { index: number; indices: Uint32Array }[][]; lr: number }[] }).requests;
    expect(reqs.map((r) => r.plans[0]!.map((p) => p.index))).toEqual([[0, 1], [2], [0, 1], [2]]);
    reqs.forEach((r, i) =>
      r.plans.forEach((plans, k) =>
        plans.forEach((p) => {
          const epoch = i < 2 ? 0 : 1;
          const want = trainBatches(data, { batchSize: 8, seed: seeds[k]!, epoch, augment, dropLast: false }).plan(p.index);
          expect([...p.indices]).toEqual([...want.indices]);
        }),
      ),
    );
  });

  test("members resuming at different epochs train in packs of those at the same epoch, and end as they would alone", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pack-protocol-"));
    try {
      const ms = members();
      // Member 0 was stopped after its first epoch; the others have not started.
      await alone(ms[0]!, seeds[0]!, { checkpointPath: join(dir, "m0.ckpt"), stopAfterEpochs: 1 });
      const { out, packs } = await packed(ms, { dir });
      expect(packs).toEqual([
        [1, 2],
        [0, 1, 2],
      ]);
      expect(out.map((r) => r.outcome.resumedFrom)).toEqual([1, 0, 0]);
      for (let k = 0; k < seeds.length; k++) {
        const want = await alone(ms[k]!, seeds[k]!);
        expect(same(out[k]!.final.state.params, want.params)).toBe(true);
        expect(untimed(out[k]!.outcome.epochs)).toEqual(untimed(want.out.epochs));
        // Each member's checkpoint holds its end state, its masks and its whole history.
        const ck = loadCheckpoint(join(dir, `m${k}.ckpt`));
        expect(ck.epoch).toBe(2);
        expect(ck.rng).toEqual({ seed: seeds[k]! });
        expect(same(ck.state.params, want.params)).toBe(true);
        expect(same(ck.masks, ms[k]!.masks)).toBe(true);
        expect(untimed(ck.meta.history as EpochRecord[])).toEqual(untimed(want.out.epochs));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a member diverging inside a resident request leaves at that step; the others go on from the next step and end as alone", async () => {
    const ms = members();
    const bad = ms[1]!.state.params;
    for (const k of Object.keys(bad)) if (k.endsWith("weight")) bad[k] = bad[k]!.map((v) => v * 1e30);
    const { out, packs, made } = await packed(ms, { stepsPerRequest: 2 });
    expect(packs).toEqual([
      [0, 1, 2],
      [0, 2],
    ]);
    const d = out[1]!.outcome;
    expect(d.status).toBe("diverged");
    if (d.status === "diverged") expect(d.divergedAt).toMatchObject({ epoch: 1, step: 1 });
    expect(d.epochs).toEqual([]);
    // The first request stopped after its first step; the new pack starts at step 1 (0-based).
    const first = (made[1] as unknown as { requests: { plans: { index: number }[][] }[] }).requests[0]!;
    expect(first.plans.map((p) => p.map((x) => x.index))).toEqual([
      [1, 2],
      [1, 2],
    ]);
    for (const k of [0, 2]) {
      const want = await alone(ms[k]!, seeds[k]!);
      expect(out[k]!.outcome.status).toBe("done");
      expect(same(out[k]!.final.state.params, want.params)).toBe(true);
      expect(untimed(out[k]!.outcome.epochs)).toEqual(untimed(want.out.epochs));
    }
  });

  test("a pack stopped after one epoch keeps resumable checkpoints; resumed, it ends where the uninterrupted pack ends", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pack-protocol-"));
    try {
      const whole = await packed(members());
      const first = await packed(members(), { dir, stopAfterEpochs: 1 });
      expect(first.out.map((r) => r.outcome.epochs.length)).toEqual([1, 1, 1]);
      expect(first.out.every((r) => r.outcome.status === "done")).toBe(true);
      expect(seeds.map((_, k) => loadCheckpoint(join(dir, `m${k}.ckpt`)).epoch)).toEqual([1, 1, 1]);
      // Stopping after more epochs than are left stops at the end.
      const resumed = await packed(members(), { dir, stopAfterEpochs: 5 });
      expect(resumed.packs).toEqual([[0, 1, 2]]);
      for (let k = 0; k < seeds.length; k++) {
        expect(resumed.out[k]!.outcome.resumedFrom).toBe(1);
        expect(untimed(resumed.out[k]!.outcome.epochs)).toEqual(untimed(whole.out[k]!.outcome.epochs));
        expect(same(resumed.out[k]!.final.state.params, whole.out[k]!.final.state.params)).toBe(true);
      }
      // Nothing left to train: no pack is formed, the members end as they are.
      const again = await packed(members(), { dir });
      expect(again.packs).toEqual([]);
      expect(again.out.map((r) => r.outcome.epochs.length)).toEqual([2, 2, 2]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("evaluation only after the epochs evalAt names; meta and onEpoch reach each member", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pack-protocol-"));
    try {
      const seen: [number, number][] = [];
      const { out } = await packed(members(), {
        dir,
        evalAt: (e) => e === 2,
        runs: seeds.map((_, k) => ({ meta: { member: k }, onEpoch: (rec) => void seen.push([k, rec.epoch]) })),
      });
      for (const r of out) {
        expect(r.outcome.epochs[0]!.testAccuracy).toBeUndefined();
        expect(r.outcome.epochs[1]!.testAccuracy).toBeGreaterThanOrEqual(0);
      }
      expect(seen.sort()).toEqual([
        [0, 1],
        [0, 2],
        [1, 1],
        [1, 2],
        [2, 1],
        [2, 2],
      ]);
      expect(loadCheckpoint(join(dir, "m2.ckpt")).meta.member).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("SAM is refused, naming the setting", async () => {
    await expect(
      trainPack({ makePack: () => Promise.reject(new Error("no pack")), members: [], data, optim: { ...optimCfg, samRho: 0.05 }, augment }),
    ).rejects.toThrow(/optim\.samRho=0\.05: SAM is not packed/);
  });
});

describe("packRequest", () => {
  test("a resident pack takes min(stepsPerRequest, steps left, maxSteps) steps; another one step", async () => {
    const ms = members().slice(0, 2);
    const loaders = seeds.slice(0, 2).map((seed) => trainBatches(data, { batchSize: 8, seed, epoch: 0, augment, dropLast: false }));
    const p = await createPack(choice, opts, ms);
    try {
      const r = withHostResidentPack(p, 5);
      expect((await packRequest(r, data, 1, loaders, 0, 0.01, 2)).done).toBe(2);
      expect((await packRequest(r, data, 1, loaders, 1, 0.01)).done).toBe(2);
      expect((await packRequest(r, data, 1, loaders, 2, 0.01)).done).toBe(1);
      const plain = await packRequest(p, data, 1, loaders, 0, 0.01);
      expect(plain.done).toBe(1);
      expect(plain.losses.map((l) => l.length)).toEqual([1, 1]);
    } finally {
      await p.dispose();
    }
  });
});

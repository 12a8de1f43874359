import type { OptimConfig } from "../config/generated/training.ts";
import { trainBatches, type BatchLoader } from "../data/batches.ts";
import type { Dataset } from "../data/types.ts";
import { residentSplit } from "../engine/resident.ts";
import type { PackMember, PackStepsResult, PackTrainer } from "../engine/types.ts";
import { evaluatePack } from "../metrics/evaluate.ts";
import { checkResumeRng, saveCheckpoint } from "./checkpoint.ts";
import { learningRate } from "./schedule.ts";
import { resumePoint, type EpochRecord, type TrainOutcome } from "./train-loop.ts";

/** One model of a pack run: what trainLoop takes per model. */
export interface PackMemberRun {
  /** Its data order and augmentation (as trainLoop's seed). */
  seed: number;
  /** Its named stream of that seed (trainLoop's stream). */
  stream?: string;
  /** Where it starts when no checkpoint is there. */
  start: PackMember;
  /** Resume from / save to this file after every epoch. */
  checkpointPath?: string;
  meta?: Record<string, unknown>;
  onEpoch?: (rec: EpochRecord, member: PackMember) => void | Promise<void>;
  onStep?: (p: { epoch: number; step: number; stepsPerEpoch: number; loss: number }) => void;
}

export interface PackLoopOptions {
  /** A pack of these members as they stand; called again when the members change (one leaves, one joins). */
  makePack: (members: PackMember[]) => Promise<PackTrainer>;
  members: PackMemberRun[];
  data: Dataset;
  optim: OptimConfig;
  augment: { cropPadding: number; flip: boolean };
  /** Evaluate on the test split after these epochs (1-based); default: every epoch. */
  evalAt?: (epoch: number) => boolean;
  /** Stops each member after this many epochs in this call (tests simulate a kill). */
  stopAfterEpochs?: number;
  /** Each pack formed: the positions (in `members`) it holds, its engine and formulation. */
  onPack?: (p: { members: number[]; engine: string; provider: string; formulation: string }) => void;
  log?: (line: string) => void;
}

export interface PackMemberOutcome {
  outcome: TrainOutcome;
  /** State and masks as training left them. */
  final: PackMember;
}

interface Runner {
  run: PackMemberRun;
  cur: PackMember;
  /** Next epoch to train (0-based). */
  epoch: number;
  stopAt: number;
  history: EpochRecord[];
  resumedFrom: number;
  diverged?: { epoch: number; step: number; loss: number };
}

/**
 * trainLoop for K models at once: one step of every member per engine step, each member
 * on its own batches (its seed's data order and augmentation), its own checkpoint after
 * every epoch, its own outcome. A member resumes from its checkpoint; members at
 * different epochs train in packs of those at the same epoch. A member whose loss is
 * not finite leaves the pack with its divergence recorded (epoch and step as trainLoop
 * records them); the others go on from the next step in a pack without it.
 */
export async function trainPack(o: PackLoopOptions): Promise<PackMemberOutcome[]> {
  const { data, optim } = o;
  // SAM steps stay unpacked (src/train/sam.ts on one trainer): a pack would quietly take plain SGD steps.
  if (optim.samRho > 0) throw new RangeError(`optim.samRho=${optim.samRho}: SAM is not packed; train these units alone (runner.pack=1)`);
  const runners: Runner[] = o.members.map((run) => {
    const ck = run.checkpointPath ? resumePoint(run.checkpointPath, o.log) : null;
    if (ck) checkResumeRng(run.checkpointPath!, ck.rng, { seed: run.seed, stream: run.stream });
    const cur = ck ? { state: ck.state, masks: { ...run.start.masks, ...ck.masks } } : run.start;
    const epoch = ck?.epoch ?? 0;
    const stopAt = o.stopAfterEpochs === undefined ? optim.epochs : Math.min(optim.epochs, epoch + o.stopAfterEpochs);
    return { run, cur, epoch, stopAt, history: [...((ck?.meta.history as EpochRecord[] | undefined) ?? [])], resumedFrom: epoch };
  });

  const ctl = new PackControl(o, runners);
  try {
    const first = Math.min(...runners.map((r) => r.epoch));
    for (let epoch = first; epoch < optim.epochs; epoch++) {
      const ids = runners.flatMap((r, i) => (!r.diverged && r.epoch === epoch && epoch < r.stopAt ? [i] : []));
      if (!ids.length) continue;
      if (!ctl.pack || ids.join() !== ctl.ids.join()) await ctl.form(ids);
      await packEpoch(o, runners, epoch, ctl);
    }
    await ctl.release();
  } finally {
    await ctl.pack?.dispose();
  }
  return runners.map((r) => ({
    final: r.cur,
    outcome: r.diverged
      ? { status: "diverged", epochs: r.history, resumedFrom: r.resumedFrom, divergedAt: r.diverged }
      : { status: "done", epochs: r.history, resumedFrom: r.resumedFrom },
  }));
}

/** One epoch of the members in the pack: steps, evaluation, checkpoints. */
async function packEpoch(o: PackLoopOptions, runners: Runner[], epoch: number, ctl: PackControl): Promise<void> {
  const pack = () => ctl.pack!;
  const inPack = () => ctl.ids;
  const { data, optim } = o;
  const t0 = performance.now();
  const lr = learningRate(optim.schedule, optim.lr, epoch, optim.epochs);
  const loaders = new Map<number, BatchLoader>(
    inPack().map((i) => [
      i,
      trainBatches(data, {
        batchSize: optim.batchSize,
        seed: runners[i]!.run.seed,
        stream: runners[i]!.run.stream,
        epoch,
        augment: o.augment,
        dropLast: false,
      }),
    ]),
  );
  const numBatches = loaders.values().next().value!.numBatches;
  const sums = new Map(inPack().map((i) => [i, { loss: 0, correct: 0, seen: 0 }]));
  for (let b = 0; b < numBatches;) {
    const ids = inPack();
    const { done, losses, correct } = await packRequest(
      pack(),
      data,
      o.augment.cropPadding,
      ids.map((i) => loaders.get(i)!),
      b,
      lr,
    );
    const left: number[] = [];
    ids.forEach((i, k) => {
      const run = runners[i]!;
      const s = sums.get(i)!;
      for (let j = 0; j < done; j++) {
        const loss = losses[k]![j]!;
        const step = b + j + 1;
        if (!Number.isFinite(loss)) {
          run.diverged = { epoch: epoch + 1, step, loss };
          o.log?.(`notice: pack member ${i} diverged at epoch ${epoch + 1} step ${step} (loss ${loss}); it leaves the pack, the others go on`);
          left.push(i);
          return;
        }
        const size = loaders.get(i)!.sizeOf(b + j);
        s.loss += loss * size;
        s.correct += correct[k]![j]!;
        s.seen += size;
        run.run.onStep?.({ epoch: epoch + 1, step, stepsPerEpoch: numBatches, loss });
      }
    });
    b += done;
    if (left.length) {
      const rest = ids.filter((i) => !left.includes(i));
      // A diverged member keeps the state it had when it diverged, as trainLoop leaves it.
      if (!rest.length) return ctl.release();
      await ctl.form(rest);
    }
  }
  const ids = inPack();
  const p = pack();
  const ev = (o.evalAt?.(epoch + 1) ?? true) ? await evaluatePack(p, data, data.test, Math.max(optim.batchSize, 256)) : null;
  const seconds = (performance.now() - t0) / 1000;
  for (const [k, i] of ids.entries()) {
    const run = runners[i]!;
    const s = sums.get(i)!;
    const rec: EpochRecord = { epoch: epoch + 1, lr, trainLoss: s.loss / s.seen, trainAccuracy: s.correct / s.seen, seconds };
    if (ev) {
      rec.testLoss = ev[k]!.loss;
      rec.testAccuracy = ev[k]!.accuracy;
    }
    run.history.push(rec);
    run.epoch = epoch + 1;
    const m = p.member(k);
    if (run.run.checkpointPath) {
      saveCheckpoint(run.run.checkpointPath, {
        epoch: epoch + 1,
        state: m.state,
        masks: m.masks,
        rng: { seed: run.run.seed, stream: run.run.stream },
        meta: { ...run.run.meta, history: run.history },
      });
    }
    await run.run.onEpoch?.(rec, m);
  }
}

/**
 * The steps of one engine request from batch `b` of an epoch, member k on loaders[k]'s
 * batches: a resident pack gets up to stepsPerRequest (and `maxSteps`) steps of plans,
 * another one step of built batches. What training and bench:train both run.
 */
export async function packRequest(
  p: PackTrainer,
  data: Dataset,
  cropPadding: number,
  loaders: BatchLoader[],
  b: number,
  lr: number,
  maxSteps = Infinity,
): Promise<{ done: number; losses: ArrayLike<number>[]; correct: ArrayLike<number>[]; timing?: PackStepsResult["timing"] }> {
  const numBatches = loaders[0]!.numBatches;
  if (p.resident) {
    p.resident.loadSplit("train", residentSplit(data, data.train, cropPadding));
    const n = Math.min(Math.max(1, p.resident.stepsPerRequest), numBatches - b, maxSteps);
    const r = await p.resident.trainSteps({ slot: "train", plans: loaders.map((l) => Array.from({ length: n }, (_, j) => l.plan(b + j))), lr });
    return { done: r.steps, losses: r.losses, correct: r.correct, timing: r.timing };
  }
  const r = await p.trainStep(
    loaders.map((l) => l.batch(b)),
    lr,
  );
  return { done: 1, losses: r.map((x) => [x.loss]), correct: r.map((x) => [x.correct]) };
}

/** The pack in use and which members (positions in the run) it holds. */
class PackControl {
  pack: PackTrainer | null = null;
  ids: number[] = [];
  constructor(
    private readonly o: PackLoopOptions,
    private readonly runners: Runner[],
  ) {}

  /** Members' current states out of the pack, then the pack released. */
  async release(): Promise<void> {
    const p = this.pack;
    if (!p) return;
    this.ids.forEach((i, k) => (this.runners[i]!.cur = copyMember(p.member(k))));
    this.pack = null;
    this.ids = [];
    await p.dispose();
  }

  /** A pack of these members from their current states. */
  async form(ids: number[]): Promise<void> {
    await this.release();
    this.pack = await this.o.makePack(ids.map((i) => this.runners[i]!.cur));
    this.ids = ids;
    this.o.onPack?.({ members: [...ids], engine: this.pack.engine, provider: this.pack.provider, formulation: this.pack.formulation });
  }
}

function copyMember(m: PackMember): PackMember {
  return { state: m.state, masks: { ...m.masks } };
}

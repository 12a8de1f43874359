import { evalBatches } from "../data/batches.ts";
import type { Dataset, Split } from "../data/types.ts";
import { residentSplit } from "../engine/resident.ts";
import type { PackTrainer, ResidentSplit, Trainer } from "../engine/types.ts";

export interface EvalResult {
  loss: number;
  accuracy: number;
  count: number;
}

/** Sums cross-entropy and correct predictions over batches of logits. */
class EvalSum {
  loss = 0;
  correct = 0;
  count = 0;
  constructor(private readonly k: number) {}

  add(logits: Float32Array, y: ArrayLike<number>, size: number): void {
    const k = this.k;
    for (let i = 0; i < size; i++) {
      const row = logits.subarray(i * k, (i + 1) * k);
      let max = -Infinity,
        arg = 0;
      for (let j = 0; j < k; j++) if (row[j]! > max) ((max = row[j]!), (arg = j));
      let sum = 0;
      for (let j = 0; j < k; j++) sum += Math.exp(row[j]! - max);
      this.loss += Math.log(sum) + max - row[y[i]!]!;
      if (arg === y[i]) this.correct++;
    }
    this.count += size;
  }

  result(): EvalResult {
    return { loss: this.loss / this.count, accuracy: this.correct / this.count, count: this.count };
  }
}

/** Mean cross-entropy and top-1 accuracy of the model (BN on running statistics) on a split. */
export async function evaluate(trainer: Trainer, data: Dataset, split: Split, batchSize: number): Promise<EvalResult> {
  const sum = new EvalSum(data.numClasses);
  for (const b of batches(trainer, data, split, batchSize)) sum.add(await b.logits(), b.y, b.size);
  return sum.result();
}

/**
 * evaluate for every member of a pack, in the same batches: one request per batch for
 * all members where the pack holds the data, else each member's trainer in turn.
 */
export async function evaluatePack(pack: PackTrainer, data: Dataset, split: Split, batchSize: number): Promise<EvalResult[]> {
  const sums = Array.from({ length: pack.size }, () => new EvalSum(data.numClasses));
  for (const b of batches(pack, data, split, batchSize)) (await b.logits()).forEach((l, k) => sums[k]!.add(l, b.y, b.size));
  return sums.map((s) => s.result());
}

/** What evaluation asks of a trainer or a pack: logits of images, from pixels built here or from a split it holds. */
interface Predictor<L> {
  predict(x: Float32Array, size: number): Promise<L>;
  readonly resident?: {
    loadSplit(slot: string, split: ResidentSplit): void;
    predictSplit(slot: string, start: number, count: number): Promise<L>;
  };
}

/**
 * The split in batches of `batchSize`, each with its labels and a way to get its logits
 * (one array, or a pack's one per member): from pixels built here, or, where the engine
 * holds data (`resident`), from the split sent once and predicted there in the same
 * batches (so the same logits).
 */
function* batches<L>(
  model: Predictor<L>,
  data: Dataset,
  split: Split,
  batchSize: number,
): Generator<{ size: number; y: ArrayLike<number>; logits: () => Promise<L> }> {
  const resident = model.resident;
  if (!resident) {
    for (const b of evalBatches(split, batchSize, data.mean, data.std, { height: data.height, width: data.width }))
      yield { size: b.size, y: b.y, logits: () => model.predict(b.x, b.size) };
    return;
  }
  const slot = split === data.test ? "test" : split === data.train ? "train-eval" : "eval";
  resident.loadSplit(slot, residentSplit(data, split, 0));
  for (let start = 0; start < split.count; start += batchSize) {
    const size = Math.min(batchSize, split.count - start);
    yield { size, y: split.labels.subarray(start, start + size), logits: () => resident.predictSplit(slot, start, size) };
  }
}

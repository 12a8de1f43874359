import { evalBatches } from "../data/batches.ts";
import type { Dataset, Split } from "../data/types.ts";
import { residentSplit } from "../engine/resident.ts";
import type { PackTrainer, Trainer } from "../engine/types.ts";

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
  const resident = pack.resident;
  if (resident) {
    const slot = slotOf(data, split);
    resident.loadSplit(slot, residentSplit(data, split, 0));
    for (let start = 0; start < split.count; start += batchSize) {
      const size = Math.min(batchSize, split.count - start);
      const logits = await resident.predictSplit(slot, start, size);
      logits.forEach((l, k) => sums[k]!.add(l, split.labels.subarray(start, start + size), size));
    }
  } else {
    for (const b of evalBatches(split, batchSize, data.mean, data.std, { height: data.height, width: data.width })) {
      const logits = await pack.predict(b.x, b.size);
      logits.forEach((l, k) => sums[k]!.add(l, b.y, b.size));
    }
  }
  return sums.map((s) => s.result());
}

/** The resident slot a split is kept in. */
function slotOf(data: Dataset, split: Split): string {
  return split === data.test ? "test" : split === data.train ? "train-eval" : "eval";
}

/**
 * The split in batches of `batchSize`, each with its labels and a way to get its logits:
 * from pixels built here, or, where the engine holds data (Trainer.resident), from the
 * split sent once and predicted there in the same batches (so the same logits).
 */
function* batches(
  trainer: Trainer,
  data: Dataset,
  split: Split,
  batchSize: number,
): Generator<{ size: number; y: ArrayLike<number>; logits: () => Promise<Float32Array> }> {
  const resident = trainer.resident;
  if (!resident) {
    for (const b of evalBatches(split, batchSize, data.mean, data.std, { height: data.height, width: data.width }))
      yield { size: b.size, y: b.y, logits: () => trainer.predict(b.x, b.size) };
    return;
  }
  const slot = slotOf(data, split);
  resident.loadSplit(slot, residentSplit(data, split, 0));
  for (let start = 0; start < split.count; start += batchSize) {
    const size = Math.min(batchSize, split.count - start);
    yield { size, y: split.labels.subarray(start, start + size), logits: () => resident.predictSplit(slot, start, size) };
  }
}

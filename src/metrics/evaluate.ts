import { evalBatches } from "../data/batches.ts";
import type { Dataset, Split } from "../data/types.ts";
import { residentSplit } from "../engine/resident.ts";
import type { Trainer } from "../engine/types.ts";

export interface EvalResult {
  loss: number;
  accuracy: number;
  count: number;
}

/** Mean cross-entropy and top-1 accuracy of the model (BN on running statistics) on a split. */
export async function evaluate(trainer: Trainer, data: Dataset, split: Split, batchSize: number): Promise<EvalResult> {
  const k = data.numClasses;
  let loss = 0,
    correct = 0,
    count = 0;
  for (const b of batches(trainer, data, split, batchSize)) {
    const logits = await b.logits();
    for (let i = 0; i < b.size; i++) {
      const row = logits.subarray(i * k, (i + 1) * k);
      let max = -Infinity,
        arg = 0;
      for (let j = 0; j < k; j++) if (row[j]! > max) ((max = row[j]!), (arg = j));
      let sum = 0;
      for (let j = 0; j < k; j++) sum += Math.exp(row[j]! - max);
      loss += Math.log(sum) + max - row[b.y[i]!]!;
      if (arg === b.y[i]) correct++;
    }
    count += b.size;
  }
  return { loss: loss / count, accuracy: correct / count, count };
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
  const slot = split === data.test ? "test" : split === data.train ? "train-eval" : "eval";
  resident.loadSplit(slot, residentSplit(data, split, 0));
  for (let start = 0; start < split.count; start += batchSize) {
    const size = Math.min(batchSize, split.count - start);
    yield { size, y: split.labels.subarray(start, start + size), logits: () => resident.predictSplit(slot, start, size) };
  }
}

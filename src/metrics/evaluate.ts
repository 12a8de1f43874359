import { evalBatches } from "../data/batches.ts";
import type { Dataset, Split } from "../data/types.ts";
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
  for (const b of evalBatches(split, batchSize, data.mean, data.std, { height: data.height, width: data.width })) {
    const logits = await trainer.predict(b.x, b.size);
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

import type { Batch, Tensors, Trainer } from "../engine/types.ts";

/**
 * Re-estimates every BN layer's running statistics from scratch on the given batches:
 * the batch-size-weighted average of batch means and unbiased variances, which is what
 * the three-regime code's update_bn (PyTorch, momentum = b / (seen + b)) computes.
 * Needed for interpolated weights, whose stored statistics match neither end point.
 */
export async function reestimateBatchNorm(trainer: Trainer, batches: Iterable<Batch>): Promise<void> {
  const sums: Tensors = {};
  let seen = 0;
  for (const b of batches) {
    const stats = await trainer.batchStats(b.x, b.size);
    for (const [name, v] of Object.entries(stats)) {
      const acc = (sums[name] ??= new Float32Array(v.length));
      for (let i = 0; i < v.length; i++) acc[i]! += b.size * v[i]!;
    }
    seen += b.size;
  }
  if (seen === 0) throw new Error("BN re-estimation needs at least one batch");
  const buffers: Tensors = {};
  for (const [name, acc] of Object.entries(sums)) buffers[name] = acc.map((v) => v / seen);
  // Buffers that are not BN statistics (none in training models) are kept as they are.
  trainer.state = { ...trainer.state, buffers: { ...trainer.state.buffers, ...buffers } };
}

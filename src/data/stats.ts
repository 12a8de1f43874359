import type { Labels } from "./types.ts";

/**
 * Per-channel mean/std of uint8 NCHW images, in [0,1] pixel units.
 * Uses a 256-bin histogram per channel: one pass of integer increments over the
 * pixels is much faster than summing floats, and the result is exact.
 */
export function channelStats(images: Uint8Array, count: number, channels: number, pixelsPerChannel: number): { mean: number[]; std: number[] } {
  const hist = new Float64Array(channels * 256);
  for (let n = 0; n < count; n++) {
    for (let c = 0; c < channels; c++) {
      const base = (n * channels + c) * pixelsPerChannel;
      const off = c * 256;
      for (let i = 0; i < pixelsPerChannel; i++) hist[off + images[base + i]!]!++;
    }
  }
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < channels; c++) {
    let total = 0,
      sum = 0,
      sumSq = 0;
    for (let v = 0; v < 256; v++) {
      const k = hist[c * 256 + v]!;
      const x = v / 255;
      total += k;
      sum += k * x;
      sumSq += k * x * x;
    }
    const m = total > 0 ? sum / total : 0;
    mean.push(m);
    // Population std, as torchvision-style recipes report it.
    std.push(total > 0 ? Math.sqrt(Math.max(0, sumSq / total - m * m)) : 1);
  }
  return { mean, std };
}

/**
 * What makes an accuracy meaningless, from the labels alone: one class in the training
 * labels (every prediction is that class: 100% or 0%), or test classes the training
 * labels never show (those test images can never be classified right). `where` names
 * the data (a directory). Empty when the labels are fine.
 */
export function labelWarnings(train: Labels, test: Labels, where: string): string[] {
  const trainClasses = new Set(train);
  const out: string[] = [];
  if (trainClasses.size === 1)
    out.push(
      `warning: ${where}: every training label is ${[...trainClasses][0]}; a model trained on one class predicts only it, so accuracies will be 100% or 0% and mean nothing. Check the labels file.`,
    );
  const unseen = [...new Set(test)].filter((c) => !trainClasses.has(c)).sort((a, b) => a - b);
  if (unseen.length) {
    const count = Array.from(test).reduce((n, c) => n + (trainClasses.has(c) ? 0 : 1), 0);
    out.push(
      `warning: ${where}: test labels ${unseen.join(", ")} never occur in the training labels (${count} of ${test.length} test images); ` +
        `those images cannot be classified right, so test accuracy is at most ${((100 * (test.length - count)) / test.length).toFixed(2)}%. Check that train and test use the same class indices.`,
    );
  }
  return out;
}

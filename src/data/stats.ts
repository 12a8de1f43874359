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

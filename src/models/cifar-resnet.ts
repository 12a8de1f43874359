/** What the CIFAR ResNets of both papers share: their options and depth rule. */
export interface CifarResNetOptions {
  /** Network depth 6n+2 (20 for the papers' models). */
  depth: number;
  /** Channels of the first stage; stages use width, 2*width, 4*width (16 in the papers). */
  width: number;
  /** [C, H, W] of an input image. */
  inputShape: [number, number, number];
  numClasses: number;
}

export function blocksPerStage(depth: number): number {
  if ((depth - 2) % 6 !== 0 || depth < 8) throw new Error(`depth must be 6n+2 (>= 8), got ${depth}`);
  return (depth - 2) / 6;
}

/** What every architecture takes. */
export interface ModelOptions {
  /** Channels of the first stage; later stages double it (16 for the CIFAR ResNet-20/56, 64 for ResNet-18/50 and VGG-16). */
  width: number;
  /** [C, H, W] of an input image. */
  inputShape: [number, number, number];
  numClasses: number;
}

/** What the CIFAR ResNets of both papers share: their options and depth rule. */
export interface CifarResNetOptions extends ModelOptions {
  /** Network depth 6n+2 (20 for the papers' models). */
  depth: number;
}

export function blocksPerStage(depth: number): number {
  if ((depth - 2) % 6 !== 0 || depth < 8) throw new Error(`depth must be 6n+2 (>= 8), got ${depth}`);
  return (depth - 2) / 6;
}

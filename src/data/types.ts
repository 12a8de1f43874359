/** Class indices: one byte per image, two where a dataset has more than 256 classes (ImageNet). */
export type Labels = Uint8Array | Uint16Array;

/** Images are NCHW uint8 (count*C*H*W bytes); labels one per image. */
export interface Split {
  images: Uint8Array;
  labels: Labels;
  count: number;
}

export type DatasetName = "cifar10" | "cifar100" | "tiny-imagenet" | "image-folder" | "fashion-mnist" | "fashion-mnist-embedded" | "npy" | "synthetic";

export interface Dataset {
  name: DatasetName;
  /** Human-readable provenance, recorded in run metadata. */
  source: string;
  channels: number;
  height: number;
  width: number;
  numClasses: number;
  /** Per-channel normalisation constants in [0,1] pixel units. */
  mean: number[];
  std: number[];
  train: Split;
  test: Split;
}

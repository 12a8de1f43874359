import { normalisationLut } from "../data/batches.ts";
import type { Dataset, Split } from "../data/types.ts";
import type { ResidentSplit } from "./types.ts";

/** `split` as an engine keeps it (ResidentTraining.loadSplit): the dataset's image shape and normalisation, and the crop padding plans assume. */
export function residentSplit(data: Pick<Dataset, "channels" | "height" | "width" | "mean" | "std">, split: Split, cropPadding: number): ResidentSplit {
  return { ...split, shape: [data.channels, data.height, data.width], lut: normalisationLut(data.mean, data.std), cropPadding };
}

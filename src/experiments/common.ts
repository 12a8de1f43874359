import type { RunnerConfig } from "../config/generated/runner.ts";
import { nominalTrainCount, type DatasetChoice } from "../data/resolve.ts";

/** What every experiment is run with: a preset, settings over it, the runner, where the report goes. */
export interface ExperimentOptions {
  preset: string;
  /** path=value settings over the preset. */
  overrides: string[];
  /** --config files, merged over the preset before the overrides. */
  configFiles?: string[];
  runner: RunnerConfig;
  reportDir: string;
  dryRun?: boolean;
}

/** The data part of a report's "scaled down from the paper" list: another dataset, fewer training images. */
export function dataDepartures(datasetName: string, trainLimit: number | undefined, paper: { dataset: DatasetChoice; trainLimit?: number }): string[] {
  const out: string[] = [];
  if (datasetName !== paper.dataset) out.push(`dataset ${datasetName} instead of ${paper.dataset === "cifar10" ? "CIFAR-10" : paper.dataset}`);
  if (trainLimit) out.push(`${trainLimit} training images instead of ${nominalTrainCount(paper.dataset, paper.trainLimit).toLocaleString("en-US")}`);
  return out;
}

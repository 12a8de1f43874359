import type { Schedule } from "../config/generated/training.ts";

/**
 * Learning rate for an epoch (0-based), constant within the epoch as with PyTorch's
 * per-epoch MultiStepLR/CosineAnnealingLR. Step milestones are fractions of training,
 * so a scaled-down run keeps the schedule's shape: 0.5 and 0.75 of 160 epochs are the
 * papers' epochs 80 and 120.
 */
export function learningRate(schedule: Schedule, baseLr: number, epoch: number, epochs: number): number {
  if (schedule.kind === "cosine") {
    return schedule.minLr + ((baseLr - schedule.minLr) * (1 + Math.cos((Math.PI * epoch) / epochs))) / 2;
  }
  const passed = schedule.milestones.filter((m) => epoch >= Math.round(m * epochs)).length;
  return baseLr * schedule.gamma ** passed;
}

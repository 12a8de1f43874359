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

/**
 * The epochs (1-based, inclusive) over which a run's test error is averaged: the last
 * ceil(fraction x epochs), at least one, and never reaching back past the start of the
 * final learning-rate phase. The paper averages its last 5 of 160 epochs, all at the
 * final rate; a scaled-down run must not average over earlier, higher rates instead.
 */
export function errorWindow(
  schedule: Schedule,
  baseLr: number,
  epochs: number,
  fraction: number,
): { first: number; last: number; count: number; finalPhaseFirst: number } {
  const finalLr = learningRate(schedule, baseLr, epochs - 1, epochs);
  let phaseStart = epochs - 1; // 0-based first epoch of the final phase
  while (phaseStart > 0 && learningRate(schedule, baseLr, phaseStart - 1, epochs) === finalLr) phaseStart--;
  const count = Math.min(Math.max(1, Math.ceil(fraction * epochs - 1e-9)), epochs - phaseStart);
  return { first: epochs - count + 1, last: epochs, count, finalPhaseFirst: phaseStart + 1 };
}

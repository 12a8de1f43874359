import cliProgress from "cli-progress";
import type { EpochRecord } from "../train/train-loop.ts";

/** A step-level progress bar with ETA on stderr, fed by trainLoop's callbacks. */
export function trainingProgress(label: string, stepsPerEpoch: number, epochs: number, startEpoch = 0) {
  const bar = new cliProgress.SingleBar(
    { format: `${label} |{bar}| epoch {epoch}/{epochs} | step {value}/{total} | loss {loss} | test acc {acc} | ETA {eta_formatted}`, stream: process.stderr, etaBuffer: 200, hideCursor: true, noTTYOutput: !process.stderr.isTTY, notTTYSchedule: 10_000 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(stepsPerEpoch * epochs, stepsPerEpoch * startEpoch, { epoch: startEpoch + 1, epochs, loss: "-", acc: "-" });
  return {
    onStep: (p: { epoch: number; step: number; stepsPerEpoch: number; loss: number }) => bar.update((p.epoch - 1) * p.stepsPerEpoch + p.step, { epoch: p.epoch, loss: p.loss.toFixed(3) }),
    onEpoch: (r: EpochRecord) => void (r.testAccuracy !== undefined && bar.update({ acc: r.testAccuracy.toFixed(3) })),
    stop: () => bar.stop(),
  };
}

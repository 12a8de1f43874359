/** The worker's command-line form of runner.replyTimeout: what the pool and Slurm scripts pass, and how the worker reads it. */
import { ConfigError } from "../config/load.ts";
import type { ReplyLimits } from "../engine/torch/torch-process.ts";

/** "600,0.25" -> the watchdog's limits (the form the pool and Slurm scripts pass them in). */
export function parseReplyTimeout(v: string): ReplyLimits {
  const [base, perImage] = v.split(",").map(Number);
  if (!(base! > 0) || !(perImage! >= 0)) throw new ConfigError(`--reply-timeout: expected "baseSeconds,secondsPerImage", given "${v}"`);
  return { baseSeconds: base!, secondsPerImage: perImage! };
}

/** The worker flag that carries runner.replyTimeout. */
export function replyTimeoutFlag(l: ReplyLimits): string[] {
  return ["--reply-timeout", `${l.baseSeconds},${l.secondsPerImage}`];
}

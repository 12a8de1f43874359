import { homedir } from "node:os";
import { join } from "node:path";

/**
 * Where downloaded datasets live: $PRUNING_HARNESS_CACHE, else $XDG_CACHE_HOME/pruning-harness,
 * else ~/.cache/pruning-harness. Shared across checkouts so CIFAR-10 is fetched once per machine.
 */
export function defaultCacheDir(env: Record<string, string | undefined> = process.env): string {
  if (env.PRUNING_HARNESS_CACHE) return env.PRUNING_HARNESS_CACHE;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, "pruning-harness");
  return join(homedir(), ".cache", "pruning-harness");
}

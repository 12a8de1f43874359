import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../config/load.ts";

/**
 * Creates `dir` if needed and proves a file can be written there, or throws a
 * ConfigError naming the flag, the directory and the reason (ENOTDIR: a file is in the
 * way; EROFS / EACCES: read-only or not permitted). Called before work starts, so that
 * a run never fails on its outputs after hours of training.
 */
export function assertWritableDir(dir: string, flag: string): void {
  const probe = join(dir, `.write-test-${process.pid}`);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(probe, "");
    rmSync(probe, { force: true });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === "ENOTDIR" || err.code === "EEXIST"
        ? "a file is in the way"
        : err.code === "EROFS"
          ? "the filesystem is read-only"
          : err.code === "EACCES" || err.code === "EPERM"
            ? "permission denied"
            : err.message.split("\n")[0];
    throw new ConfigError(`${flag} ${dir}: cannot write there (${err.code ?? "error"}: ${why}); choose another directory`);
  }
}

import { createHash, randomUUID } from "node:crypto";
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { UnitRecord } from "../config/generated/record.ts";
import { ConfigError, validateConfig } from "../config/load.ts";
import { writeFileAtomic } from "../util/atomic-write.ts";
import { heartbeatIntervalMs, startHeartbeat } from "./heartbeat.ts";
import type { FailureKind } from "./failure-kind.ts";
import type { Unit } from "./unit.ts";
import { pidAlive } from "../util/pid-alive.ts";

/** Written last, by rename: a unit is complete exactly when this file exists and matches. */
interface DoneMarker {
  resultSha256: string;
  finishedAt: string;
}

export interface UnitProgress {
  done: number;
  total: number;
  text?: string;
  at: string;
}

export interface LockInfo {
  pid: number;
  host: string;
  startedAt: string;
  /** When the holder process started (Linux: /proc/<pid>/stat), so a pid reused after a reboot is not taken for the holder. */
  pidStart?: string;
  /** Random, so two locks never read the same: a lock is removed only if it still reads as the one judged. */
  token?: string;
}

export type LockResult = { acquired: true; release: () => void } | { acquired: false; holder: LockInfo | null };

/** A process's start time on Linux (field 22 of /proc/<pid>/stat); null elsewhere or when it is gone. */
export function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

/**
 * The run store: one directory per unit, named by its id. Everything is written
 * atomically (temp + fsync + rename); a unit's result counts only when its done marker
 * matches the result's checksum and the result passes the record schema, so a
 * truncated or corrupted file is recomputed, never used.
 */
export class RunStore {
  constructor(
    readonly root: string,
    readonly staleLockSeconds = 300,
  ) {}

  dir(id: string): string {
    return join(this.root, id);
  }

  /** Scratch space of a unit (checkpoints of a half-done run live here). */
  workDir(id: string): string {
    const d = join(this.dir(id), "work");
    mkdirSync(d, { recursive: true });
    return d;
  }

  /** Withdraws a unit's completeness (its outputs turned out damaged): the next run recomputes it. */
  invalidate(id: string, why: string): void {
    rmSync(join(this.dir(id), "done.json"), { force: true });
    process.stderr.write(`notice: unit ${id}: ${why}; it will be recomputed\n`);
  }

  /** Removes a finished unit's scratch space (its resume checkpoint). */
  clearWork(id: string): void {
    rmSync(join(this.dir(id), "work"), { recursive: true, force: true });
  }

  /**
   * Records the unit's spec so any process (a worker, a Slurm task) can run it by id.
   * The spec is derived from the plan, so a damaged or different copy is rewritten.
   */
  plan(unit: Unit<unknown>): void {
    const path = join(this.dir(unit.id), "unit.json");
    const text = JSON.stringify(unit, null, 2) + "\n";
    if (existsSync(path) && readFileSync(path, "utf8") === text) return;
    if (existsSync(path)) process.stderr.write(`notice: ${path} did not match the plan; rewritten\n`);
    writeFileAtomic(path, text);
  }

  /** The unit's spec; a damaged one is a clean error (not retried), which the next planning run repairs. */
  readUnit(id: string): Unit {
    const path = join(this.dir(id), "unit.json");
    if (!existsSync(path)) throw new ConfigError(`unit ${id} is not planned in ${this.root} (no ${path})`);
    let unit: Unit;
    try {
      unit = JSON.parse(readFileSync(path, "utf8")) as Unit;
    } catch (e) {
      throw new ConfigError(`${path} is damaged (${(e as Error).message}); run the command that planned it again, which rewrites it`);
    }
    if (unit?.id !== id || typeof unit.kind !== "string" || !Array.isArray(unit.deps))
      throw new ConfigError(`${path} does not describe unit ${id}; run the command that planned it again, which rewrites it`);
    return unit;
  }

  /**
   * The unit's record if it is complete and intact; null otherwise. A damaged done.json or
   * result.json is named, with what is wrong with it (the schema error's path). A run (the
   * default) withdraws the unit's completeness, keeping the evidence, so it is recomputed;
   * a read-only caller (`readOnly`: collect, dry runs, reports, exports) changes nothing.
   */
  result(id: string, o: { readOnly?: boolean } = {}): UnitRecord | null {
    const dir = this.dir(id);
    const donePath = join(dir, "done.json"),
      resultPath = join(dir, "result.json");
    if (!existsSync(donePath)) return null;
    const damaged = (path: string, why: string): null => {
      if (o.readOnly) {
        process.stderr.write(
          `notice: ${path} is corrupt (${why}); unit ${id} counts as not finished (left as is: the next run of its command recomputes it)\n`,
        );
        return null;
      }
      // Keep the evidence, drop the claim of completeness: the unit runs again.
      rmSync(donePath, { force: true });
      process.stderr.write(`notice: ${path} is corrupt (${why}); the unit will be recomputed\n`);
      return null;
    };
    const firstLine = (e: unknown): string => String(e instanceof Error ? e.message : e).split("\n")[0] ?? "";
    let marker: DoneMarker;
    try {
      marker = JSON.parse(readFileSync(donePath, "utf8")) as DoneMarker;
    } catch (e) {
      return damaged(donePath, firstLine(e));
    }
    if (typeof marker?.resultSha256 !== "string") return damaged(donePath, "no resultSha256");
    let bytes: Buffer;
    try {
      bytes = readFileSync(resultPath);
    } catch (e) {
      return damaged(resultPath, (e as NodeJS.ErrnoException).code === "ENOENT" ? "missing" : firstLine(e));
    }
    if (createHash("sha256").update(bytes).digest("hex") !== marker.resultSha256)
      return damaged(resultPath, "checksum mismatch: it changed after done.json was written");
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString("utf8"));
    } catch (e) {
      return damaged(resultPath, `not JSON: ${firstLine(e)}`);
    }
    try {
      return validateConfig<UnitRecord>("record", value, resultPath);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      // validateConfig's first line names the file; the rest are the schema errors, one per line.
      const errors = e.message
        .split("\n")
        .slice(1)
        .map((l) => l.replace(/^\s*-\s*/, "").trim())
        .filter(Boolean);
      return damaged(resultPath, errors.length ? `record schema: ${errors.join("; ")}` : firstLine(e));
    }
  }

  isDone(id: string, o: { readOnly?: boolean } = {}): boolean {
    return this.result(id, o) !== null;
  }

  /** Writes the record, then the done marker: a crash in between leaves the unit not done. */
  complete(record: UnitRecord): void {
    validateConfig("record", record, `record of ${record.unitId}`);
    const bytes = Buffer.from(JSON.stringify(record, null, 2) + "\n");
    const dir = this.dir(record.unitId);
    writeFileAtomic(join(dir, "result.json"), bytes);
    const marker: DoneMarker = { resultSha256: createHash("sha256").update(bytes).digest("hex"), finishedAt: record.finishedAt };
    writeFileAtomic(join(dir, "done.json"), JSON.stringify(marker) + "\n");
    rmSync(join(dir, "failed.json"), { force: true });
  }

  /** Progress of a running unit, as the worker last reported it. */
  writeProgress(id: string, p: UnitProgress): void {
    writeFileAtomic(join(this.dir(id), "progress.json"), JSON.stringify(p));
  }

  progress(id: string): UnitProgress | null {
    try {
      return JSON.parse(readFileSync(join(this.dir(id), "progress.json"), "utf8")) as UnitProgress;
    } catch {
      return null;
    }
  }

  /** Notes why an attempt failed (for progress and reports); the unit stays not done. */
  fail(id: string, error: string, attempt: number, kind: FailureKind = "transient"): void {
    writeFileAtomic(join(this.dir(id), "failed.json"), JSON.stringify({ error, attempt, kind, at: new Date().toISOString() }, null, 2) + "\n");
  }

  failure(id: string): { error: string; attempt: number; kind?: FailureKind } | null {
    const p = join(this.dir(id), "failed.json");
    try {
      return JSON.parse(readFileSync(p, "utf8"));
    } catch {
      return null;
    }
  }

  /** Counts attempts across processes and restarts (a killed worker leaves its count behind). */
  nextAttempt(id: string): number {
    const p = join(this.dir(id), "attempts");
    let n = 0;
    try {
      n = Number(readFileSync(p, "utf8")) || 0;
    } catch {}
    writeFileAtomic(p, String(n + 1));
    return n + 1;
  }

  /**
   * How long attempt `attempt` has run so far. The worker saves it at every progress
   * report and heartbeat, so a killed attempt (which cannot write at exit) leaves the
   * time up to its last save behind, and the completing attempt can add it up.
   */
  saveAttemptSeconds(id: string, attempt: number, seconds: number): void {
    const times = this.readAttemptTimes(id);
    times[String(attempt)] = seconds;
    writeFileAtomic(join(this.dir(id), "attempt-seconds.json"), JSON.stringify(times));
  }

  /** Seconds of attempts 1..upTo as last saved; 0 for an attempt that died before its first save. */
  attemptSeconds(id: string, upTo = this.attempts(id)): number[] {
    const times = this.readAttemptTimes(id);
    return Array.from({ length: upTo }, (_, i) => times[String(i + 1)] ?? 0);
  }

  private readAttemptTimes(id: string): Record<string, number> {
    try {
      return JSON.parse(readFileSync(join(this.dir(id), "attempt-seconds.json"), "utf8")) as Record<string, number>;
    } catch {
      return {};
    }
  }

  attempts(id: string): number {
    try {
      return Number(readFileSync(join(this.dir(id), "attempts"), "utf8")) || 0;
    } catch {
      return 0;
    }
  }

  /**
   * One runner per unit: O_EXCL creation of `lock`, which holds pid, host and start
   * time; its mtime is the heartbeat, which a thread of its own keeps fresh while the
   * unit runs (heartbeat.ts), however long the unit's steps block the main thread.
   * A lock whose holder is alive on this host is never taken over; a dead holder's is
   * taken over at once; another host's only once its heartbeat is older than
   * staleLockSeconds.
   */
  lock(id: string): LockResult {
    const path = join(this.dir(id), "lock");
    mkdirSync(this.dir(id), { recursive: true });
    const start = processStart(process.pid);
    const token = randomUUID();
    const info: LockInfo = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), ...(start ? { pidStart: start } : {}), token };
    const content = JSON.stringify(info);
    // Written in full under a private name, then linked into place: link() is atomic and
    // fails when the lock exists (also over NFS), so no runner ever reads a lock whose
    // holder is not written yet (an empty lock reads as unreadable, so stale, so taken).
    const own = `${path}.${token}`;
    writeFileSync(own, content);
    try {
      for (let tries = 0; tries < 3; tries++) {
        try {
          linkSync(own, path);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
          if (this.takeOverIfStale(path, own) === "live") return { acquired: false, holder: this.lockHolder(id) };
          continue;
        }
        const stopBeating = startHeartbeat(path, heartbeatIntervalMs(this.staleLockSeconds));
        return {
          acquired: true,
          release: () => {
            stopBeating();
            // Only our own lock: a runner on another host that judged ours stale may hold the path now.
            removeIfUnchanged(path, content);
          },
        };
      }
      return { acquired: false, holder: this.lockHolder(id) };
    } finally {
      rmSync(own, { force: true });
    }
  }

  /**
   * Removes the lock at `path` if its holder is dead or silent; "live" if it is not (or
   * another runner is taking it over right now). Removal happens only under a second,
   * short-lived lock (`lock.takeover`), with the holder judged again inside it, and only
   * while the lock still reads as the one judged: two runners that both judged a lock
   * stale could otherwise have the slower one delete the lock the faster one had just made.
   * (Not by inode: a removed lock's inode is often reused by the next one at once.)
   */
  private takeOverIfStale(path: string, own: string): "live" | "gone" {
    const mutex = `${path}.takeover`;
    try {
      linkSync(own, mutex);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      // Held for microseconds: only a runner that died inside it leaves it behind.
      const text = readText(mutex);
      const holder = parseLock(text);
      if (holder && this.isStale(mutex, holder)) removeIfUnchanged(mutex, text!);
      return "live";
    }
    try {
      const text = readText(path);
      if (text === null) return "gone";
      const holder = parseLock(text);
      if (holder && !this.isStale(path, holder)) return "live";
      removeIfUnchanged(path, text);
      return "gone";
    } finally {
      rmSync(mutex, { force: true });
    }
  }

  /** Who holds a unit's lock (null: nobody, or an unreadable lock). */
  lockHolder(id: string): LockInfo | null {
    try {
      return JSON.parse(readFileSync(join(this.dir(id), "lock"), "utf8")) as LockInfo;
    } catch {
      return null;
    }
  }

  /** The holder of a unit's lock when that lock is live (would not be taken over), else null. */
  liveHolder(id: string): LockInfo | null {
    const holder = this.lockHolder(id);
    return holder && !this.isStale(join(this.dir(id), "lock"), holder) ? holder : null;
  }

  private isStale(path: string, holder: LockInfo): boolean {
    if (holder.host === hostname()) return !this.holderAlive(holder);
    try {
      return Date.now() - statSync(path).mtimeMs > this.staleLockSeconds * 1000;
    } catch {
      return true;
    }
  }

  /** Whether a holder on this host still runs: its pid exists and, where recorded, started when the lock says. */
  private holderAlive(holder: LockInfo): boolean {
    if (!pidAlive(holder.pid)) return false;
    if (holder.pidStart === undefined) return true;
    const now = processStart(holder.pid);
    return now === null || now === holder.pidStart;
  }

  /** Ids of every planned unit in the store. */
  list(): string[] {
    if (!existsSync(this.root)) return [];
    return readdirSync(this.root).filter((d) => existsSync(join(this.root, d, "unit.json")));
  }
}

/** A file's text, or null when it is missing. */
function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** A lock file's holder, or null when the file is missing or unreadable. */
function parseLock(text: string | null): LockInfo | null {
  try {
    return text === null ? null : (JSON.parse(text) as LockInfo);
  } catch {
    return null;
  }
}

/** Removes `path` if it still reads `text`. */
function removeIfUnchanged(path: string, text: string): void {
  if (readText(path) === text) rmSync(path, { force: true });
}

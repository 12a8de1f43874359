/**
 * Starts the lock heartbeat thread (heartbeat-thread.ts) for one lock file; returns the
 * function that stops it. A thread rather than a timer on the main thread: a timer
 * never fires while a unit's steps block the event loop, and a lock that looks dead
 * while its unit trains is taken over by a second runner (issue 23).
 */
export function startHeartbeat(path: string, intervalMs: number): () => void {
  const thread = new Worker(new URL("./heartbeat-thread.ts", import.meta.url).href);
  thread.postMessage({ path, intervalMs });
  // The heartbeat never keeps a finished worker process alive.
  thread.unref();
  return () => thread.terminate();
}

/** How often a lock is touched: several beats per stale period, at most every 15 s. */
export function heartbeatIntervalMs(staleLockSeconds: number): number {
  return Math.max(50, Math.min(15_000, (staleLockSeconds * 1000) / 4));
}

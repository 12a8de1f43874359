/**
 * The torch engine's watchdog: a thread of its own, because the main thread is blocked
 * in a synchronous FIFO read while it waits for a reply and can run no timer. The main
 * thread writes a deadline into shared memory before each request and clears it after;
 * past the deadline this thread kills the Python process, whose closed pipe then ends
 * the blocked read (or write) with an error the main thread can name.
 */
declare const self: Worker;

/** Shared cells: [0] deadline in ms since the epoch (0: no request in flight), [1] the server's pid, [2] 1 once it was killed. */
self.onmessage = (e: MessageEvent<{ cells: SharedArrayBuffer; pollMs: number }>) => {
  const cells = new BigInt64Array(e.data.cells);
  setInterval(() => {
    const deadline = Atomics.load(cells, 0);
    if (deadline === 0n || BigInt(Date.now()) <= deadline || Atomics.load(cells, 2) === 1n) return;
    Atomics.store(cells, 2, 1n);
    try {
      // SIGKILL also ends a stopped (SIGSTOP) process, which would ignore SIGTERM until continued.
      process.kill(Number(Atomics.load(cells, 1)), "SIGKILL");
    } catch {
      // already gone
    }
  }, e.data.pollMs);
};

/**
 * The lock heartbeat's own thread: it touches the lock file on a timer that keeps
 * running while the worker's main thread is blocked (the torch engine's synchronous
 * FIFO reads, ONNX Runtime's synchronous session.run), so a lock stays fresh for as long
 * as its process lives, whatever the engine. A hung process is the watchdog's business
 * (torch-process.ts), not the lock's.
 */
import { utimesSync } from "node:fs";

declare const self: Worker;

self.onmessage = (e: MessageEvent<{ path: string; intervalMs: number }>) => {
  const { path, intervalMs } = e.data;
  const beat = () => {
    const now = new Date();
    try {
      utimesSync(path, now, now);
    } catch {
      // The lock was released (the main thread is about to stop this thread).
    }
  };
  beat();
  setInterval(beat, intervalMs);
};

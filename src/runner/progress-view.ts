import cliProgress from "cli-progress";
import { getKind } from "./kinds/registry.ts";
import { formatDuration } from "./plan.ts";
import type { PoolEvent } from "./local-pool.ts";
import type { RunStore } from "./store.ts";
import type { Unit } from "./unit.ts";

/**
 * Time left at this run's rate so far: our own, because cli-progress's prints "NFs" or
 * "LLs" when the rate is zero or nothing is left (every unit reused); "-" until the rate is known.
 */
export function etaText(o: { total: number; value: number; startValue: number; seconds: number }): string {
  const left = o.total - o.value;
  if (left <= 0) return "0s";
  const rate = (o.value - o.startValue) / o.seconds;
  return rate > 0 && Number.isFinite(rate) ? formatDuration(left / rate) : "-";
}

/**
 * The local pool's progress line: units complete / running / failed and an ETA. Work is
 * weighted by each unit's estimated images, and running units contribute the fraction
 * their workers report in the store, so the ETA means something when a grid mixes long
 * dense runs with short metric units.
 */
export async function progressView(units: Unit<unknown>[], store: RunStore) {
  const bar = new cliProgress.SingleBar(
    {
      format: "units |{bar}| {complete}/{units} complete | running {running} | failed {failed} | ETA {timeLeft} {detail}",
      stream: process.stderr,
      etaBuffer: 50,
      hideCursor: true,
      noTTYOutput: !process.stderr.isTTY,
      notTTYSchedule: 30_000,
    },
    cliProgress.Presets.shades_classic,
  );
  const weight = new Map<string, number>();
  for (const u of units) weight.set(u.id, Math.max(1, (await getKind(u.kind)).estimateImages(u.config as never)));
  let completed = units.filter((u) => store.isDone(u.id)).reduce((s, u) => s + weight.get(u.id)!, 0);
  let last: PoolEvent = { done: 0, running: 0, failed: 0, blocked: 0, total: units.length };
  const running = new Set<string>();
  const labels = new Map(units.map((u) => [u.id, u.label ?? u.id]));
  const total = [...weight.values()].reduce((a, b) => a + b, 0);
  const start = { at: Date.now(), value: completed };
  const eta = (value: number) => etaText({ total, value, startValue: start.value, seconds: (Date.now() - start.at) / 1000 });
  const refresh = () => {
    let partial = 0;
    let detail = "";
    for (const id of running) {
      const p = store.progress(id);
      if (!p || p.total <= 0) continue;
      partial += Math.min(1, p.done / p.total) * weight.get(id)!;
      if (!detail && p.text) detail = `| ${labels.get(id)}: ${p.text}`;
    }
    bar.update(completed + partial, { complete: last.done, running: last.running, failed: last.failed, detail, timeLeft: eta(completed + partial) });
  };
  bar.start(total, completed, { complete: 0, running: 0, failed: 0, detail: "", units: units.length, timeLeft: eta(completed) });
  const timer = setInterval(refresh, 1000);
  return {
    onEvent(e: PoolEvent) {
      last = e;
      if (e.unit?.state === "running") running.add(e.unit.id);
      else if (e.unit) running.delete(e.unit.id);
      if (e.unit?.state === "done") completed += weight.get(e.unit.id)!;
      refresh();
    },
    stop() {
      clearInterval(timer);
      bar.stop();
    },
  };
}

#!/usr/bin/env bun
/**
 * bun run collect — every finished unit of a run store as one table (CSV or JSON lines):
 * kind, the settings that differ from defaults, final metrics, wall time, engine. For
 * pandas (`pd.read_csv`), R or a spreadsheet.
 */
import { Command, Option } from "commander";
import { collectedColumns, collectRuns } from "../report/collect.ts";
import { toCsv } from "../report/csv.ts";
import { writeFileAtomic } from "../util/atomic-write.ts";
import { runMain, withVersion } from "./common.ts";
import { ConfigError } from "../config/load.ts";
import { existsSync, statSync } from "node:fs";

const cmd = withVersion(new Command("collect"))
  .description("Collect a run store into one table: every finished unit with its kind, changed settings, final metrics, wall time and engine")
  .option("--runs-dir <dir>", "the run store to read", "runs")
  .option("--out <file>", "write the table here (atomically) instead of stdout")
  .addOption(new Option("--format <format>", "csv, or jsonl (one JSON object per unit)").choices(["csv", "jsonl"]).default("csv"))
  .option("--kind <list>", "only these unit kinds, comma-separated (e.g. retrain,cell)")
  .showHelpAfterError("(run with --help for usage)")
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

await runMain(async () => {
  const opts = cmd.parse().opts<{ runsDir: string; out?: string; format: "csv" | "jsonl"; kind?: string }>();
  if (!existsSync(opts.runsDir)) throw new ConfigError(`--runs-dir ${opts.runsDir}: no such directory; give the --runs-dir a command ran with (default: runs)`);
  if (!statSync(opts.runsDir).isDirectory())
    throw new ConfigError(`--runs-dir ${opts.runsDir}: a file, not a directory; give the --runs-dir a command ran with (default: runs)`);
  const kinds = opts.kind
    ?.split(",")
    .map((k) => k.trim())
    .filter(Boolean);
  const { rows, incomplete } = await collectRuns(opts.runsDir, { kinds });
  const text = opts.format === "csv" ? toCsv(rows, collectedColumns(rows)) : rows.map((r) => JSON.stringify(r)).join("\n") + (rows.length ? "\n" : "");
  if (opts.out) {
    try {
      writeFileAtomic(opts.out, text);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new ConfigError(
        `--out ${opts.out}: cannot write it (${err.code ?? "error"}: ${err.message.split("\n")[0]}); choose a file in a writable directory`,
      );
    }
  } else process.stdout.write(text);
  process.stderr.write(
    `${rows.length} finished unit(s)${kinds ? ` of kind ${kinds.join(", ")}` : ""} from ${opts.runsDir}${incomplete ? `; ${incomplete} not finished (left out)` : ""}${opts.out ? `; wrote ${opts.out}` : ""}\n`,
  );
});

import { Command, Option } from "commander";
import { ConfigError } from "../config/load.ts";
import { DataError } from "../data/errors.ts";
import { CheckpointError } from "../train/checkpoint.ts";
import { PRESET_NAMES } from "../config/presets.ts";

export interface CommonOptions {
  preset: string;
  reportDir: string;
  set: string[];
}

/** A command with the flags every entry point shares. */
export function baseCommand(name: string, description: string, defaultPreset = "quick"): Command {
  return new Command(name)
    .description(description)
    .addOption(new Option("--preset <name>", "preset from presets/ (smoke: seconds, for CI; quick: scaled-down default; paper: full protocol)").choices(PRESET_NAMES).default(defaultPreset))
    .option("--report-dir <dir>", "where the markdown/JSON report is written", "reports")
    .option("--set <path=value>", "override one setting, e.g. --set optim.epochs=30 (repeatable)", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .showHelpAfterError()
    .exitOverride((err) => {
      // Usage errors exit 2 before anything is written; --help and --version exit 0.
      process.exit(err.exitCode === 0 ? 0 : 2);
    });
}

/** Runs a command's main; bad settings exit 2 with the message, other failures exit 1. */
export async function runMain(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (e) {
    // Bad settings and bad input files: the message names the setting or file and the fix.
    if (e instanceof ConfigError || e instanceof DataError || e instanceof CheckpointError) {
      console.error(`error: ${e.message}`);
      process.exit(2);
    }
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  }
}

/** One line per notice on stderr, so stdout stays for results. */
export const notice = (line: string): void => void process.stderr.write(`${line}\n`);

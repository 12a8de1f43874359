/**
 * The README's how-to guides, run as written: every ```sh howto block, in a scratch folder
 * standing for a checkout's working directory (a package.json whose scripts are this
 * repository's, so `bun run <script>` works there), with tiny datasets in the official
 * formats under my-data/. The blocks of one guide run in one shell, in order.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeNpy } from "../../src/data/npy.ts";
import { probeTorch } from "../../src/engine/torch/detect.ts";
import { writeCifarDir } from "../fixtures/data-fixtures.ts";

// Each guide trains at smoke scale through the real commands.
setDefaultTimeout(180_000);
const REPO = join(import.meta.dir, "../..");
const readme = readFileSync(join(REPO, "README.md"), "utf8");

interface Guide {
  title: string;
  script: string;
  needsTorch: boolean;
}

/** The howto blocks under each ### heading of the guides' section, joined per heading. */
function guides(): Guide[] {
  const section = readme.slice(
    readme.indexOf("## Bring your own: how-to guides"),
    readme.indexOf("\n## ", readme.indexOf("## Bring your own: how-to guides") + 3),
  );
  const out = new Map<string, Guide>();
  let title = "";
  for (const part of section.split(/^(### .*)$/m)) {
    if (part.startsWith("### ")) {
      title = part.slice(4).trim();
      continue;
    }
    for (const m of part.matchAll(/```sh howto([^\n]*)\n([\s\S]*?)```/g)) {
      const g = out.get(title) ?? { title, script: "", needsTorch: false };
      g.script += m[2];
      g.needsTorch ||= m[1]!.includes("needs-torch");
      out.set(title, g);
    }
  }
  return [...out.values()];
}

const probe = await probeTorch();
const python = "found" in probe ? probe.found.python : null;
const dir = mkdtempSync(join(tmpdir(), "howto-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A working directory whose `bun run <script>` runs this repository's scripts, and my-data/. */
async function workdir(name: string): Promise<string> {
  const cwd = join(dir, name);
  mkdirSync(cwd, { recursive: true });
  const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { scripts: Record<string, string> };
  const scripts = Object.fromEntries(
    Object.entries(pkg.scripts).map(([k, v]) => [k, v.replace(/^(bun|bash) (\S+)/, (_, cmd, path) => `${cmd} ${join(REPO, path)}`)]),
  );
  writeFileSync(join(cwd, "package.json"), JSON.stringify({ name: "howto", private: true, scripts }));
  // CIFAR-10 is read only whole: 10,000 records a file, as the official copy has.
  await writeCifarDir(join(cwd, "my-data"), 10_000);
  const npy = join(cwd, "my-data/npy");
  mkdirSync(npy, { recursive: true });
  for (const [split, n] of [
    ["train", 96],
    ["test", 32],
  ] as const) {
    writeNpy(
      join(npy, `${split}_images.npy`),
      Uint8Array.from({ length: n * 3 * 16 * 16 }, (_, i) => (i * 37 + Math.floor(i / 768) * 50) & 0xff),
      [n, 3, 16, 16],
    );
    writeNpy(
      join(npy, `${split}_labels.npy`),
      Uint8Array.from({ length: n }, (_, i) => i % 4),
      [n],
    );
  }
  return cwd;
}

test("the README has the five guides the issue asks for, each with commands to run", () => {
  expect(guides().map((g) => g.title)).toEqual([
    "Add a pruning method",
    "Add a model or an op",
    "Run on your own data",
    "Run on Slurm with GPUs",
    "Compare with your PyTorch numbers",
  ]);
});

test("the worked example's code and schema in the README are the files themselves", () => {
  for (const m of readme.matchAll(/<!-- file: (\S+) -->\n```\w+\n([\s\S]*?)```/g))
    expect(m[2]!.trimEnd()).toBe(readFileSync(join(REPO, m[1]!), "utf8").trimEnd());
  expect([...readme.matchAll(/<!-- file: (\S+) -->/g)].map((m) => m[1])).toEqual([
    "src/prune/weight-gradient.ts",
    "schemas/one-shot-weight-gradient.schema.json",
  ]);
});

describe("every guide's commands run as written", () => {
  for (const g of guides())
    test.skipIf(g.needsTorch && !python)(g.title, async () => {
      const cwd = await workdir(g.title.replace(/\W+/g, "-"));
      // The guides say python3; here, the interpreter that has torch.
      const script = g.needsTorch ? g.script.replace(/^python3 /gm, `${python} `) : g.script;
      const r = Bun.spawnSync(["bash", "-euo", "pipefail", "-c", script], { cwd, stdout: "pipe", stderr: "pipe" });
      if (r.exitCode !== 0) throw new Error(`"${g.title}" failed (${r.exitCode}):\n${r.stderr.toString().slice(-3000)}`);
    });
});

import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { commandLine, partialName, writeReportFiles } from "../../src/experiments/common.ts";

const report = (tag: string) => ({
  "fig2.svg": `<svg>${tag}</svg>`,
  "fig2-lmc.svg": `<svg>lmc ${tag}</svg>`,
  "fig2-cells.csv": `cells,${tag}\n`,
  "fig2.md": `# Figure 2 ${tag}\n\n![Figure 2](fig2.svg)\n\n[LMC](fig2-lmc.svg)\n`,
});
const read = (dir: string, name: string) => readFileSync(join(dir, name), "utf8");

test("partial files go beside the report: .partial before the extension", () => {
  expect(partialName("fig2.md")).toBe("fig2.partial.md");
  expect(partialName("fig2-cells.csv")).toBe("fig2-cells.partial.csv");
  expect(partialName("bip-vs-imp-accuracy.svg")).toBe("bip-vs-imp-accuracy.partial.svg");
});

test("a run with failed or blocked units leaves the last complete report as it was and writes a partial one beside it, with a banner naming each unit and its error", () => {
  const dir = mkdtempSync(join(tmpdir(), "report-files-"));
  const good = writeReportFiles(dir, report("good"), []);
  expect(good.partial).toBe(false);
  const before = Object.fromEntries(Object.keys(report("")).map((n) => [n, read(dir, n)]));

  const failed = [
    { unit: "cell T=2 d=0.1", error: "this unit fails on purpose" },
    { unit: "retrain T=2 d=0.1 seed 2", error: "blocked by a failed dependency" },
  ];
  const out = writeReportFiles(dir, report("bad"), failed);
  expect(out.partial).toBe(true);
  // Nothing of the complete report changed: not its markdown, nor the figures and tables it links.
  for (const [n, content] of Object.entries(before)) expect(read(dir, n)).toBe(content);
  expect(out.paths.map((p) => p.slice(dir.length + 1)).sort()).toEqual([
    "fig2-cells.partial.csv",
    "fig2-lmc.partial.svg",
    "fig2.partial.md",
    "fig2.partial.svg",
  ]);
  expect(read(dir, "fig2.partial.svg")).toBe("<svg>bad</svg>");
  const md = read(dir, "fig2.partial.md");
  // The banner comes first and lists every unit with its error.
  expect(md.startsWith("> **PARTIAL REPORT: 2 unit(s) did not complete**")).toBe(true);
  const banner = md.slice(0, md.indexOf("# Figure 2"));
  for (const f of failed) expect(banner).toContain(`> - ${f.unit}: ${f.error}`);
  expect(banner).toContain("`fig2.md`");
  // Its links point at the partial figures, not at the complete report's.
  expect(md).toContain("](fig2.partial.svg)");
  expect(md).toContain("](fig2-lmc.partial.svg)");
  expect(md).not.toContain("](fig2.svg)");
});

test("a complete run writes the report under its own names and removes the partial files an earlier run left", () => {
  const dir = mkdtempSync(join(tmpdir(), "report-files-"));
  writeReportFiles(dir, report("bad"), [{ unit: "u", error: "e" }]);
  expect(existsSync(join(dir, "fig2.partial.md"))).toBe(true);
  expect(existsSync(join(dir, "fig2.md"))).toBe(false); // no complete report yet: none is made up
  const out = writeReportFiles(dir, report("good"), []);
  expect(out.partial).toBe(false);
  expect(readdirSync(dir).sort()).toEqual(["fig2-cells.csv", "fig2-lmc.svg", "fig2.md", "fig2.svg"]);
  expect(read(dir, "fig2.md")).toBe(report("good")["fig2.md"]);
});

test("a report names the command that made it: preset, --config files and --set overrides, quoted for the shell where needed", () => {
  expect(commandLine("repro:fig2", { preset: "quick", overrides: [] })).toBe("bun run repro:fig2 --preset quick");
  expect(
    commandLine("repro:fig2", { preset: "quick", overrides: ["seeds.retrain=1,2,3,4,5,6", "densities=[0.03, 0.05]"], configFiles: ["my protocol.json"] }),
  ).toBe("bun run repro:fig2 --preset quick --config 'my protocol.json' --set seeds.retrain=1,2,3,4,5,6 --set 'densities=[0.03, 0.05]'");
  expect(commandLine("bench:bip-vs-imp", { preset: "paper", overrides: ["x='a'"] })).toBe(`bun run bench:bip-vs-imp --preset paper --set 'x='\\''a'\\'''`);
});

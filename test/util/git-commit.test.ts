import { expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gitCommit } from "../../src/util/provenance.ts";

test("gitCommit marks uncommitted source changes, not the harness's own outputs (reports/, models/)", () => {
  const dir = mkdtempSync(join(tmpdir(), "git-commit-"));
  const git = (...a: string[]) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...a], { cwd: dir, stdio: "pipe" });
  git("init", "-q");
  for (const f of ["src/a.ts", "reports/fig2.md", "models/quick/manifest.json"]) {
    mkdirSync(join(dir, f, ".."), { recursive: true });
    writeFileSync(join(dir, f), "1");
  }
  git("add", "-A");
  git("commit", "-qm", "x");
  const sha = git("rev-parse", "--short=12", "HEAD").toString().trim();
  expect(gitCommit(dir)).toBe(sha);
  writeFileSync(join(dir, "reports/fig2.md"), "2");
  writeFileSync(join(dir, "models/quick/manifest.json"), "2");
  expect(gitCommit(dir)).toBe(sha);
  // From a subfolder too: the check covers the whole checkout.
  expect(gitCommit(join(dir, "reports"))).toBe(sha);
  writeFileSync(join(dir, "src/a.ts"), "2");
  expect(gitCommit(join(dir, "reports"))).toBe(`${sha} (with uncommitted changes)`);
});

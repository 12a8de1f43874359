import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { DataError } from "../../src/data/errors.ts";
import { extractTar } from "../../src/data/tar.ts";
import { makeTempDir, tarBytes } from "../fixtures/data-fixtures.ts";

const tmp = makeTempDir("tar-");
afterAll(tmp.cleanup);

describe("tar extraction", () => {
  test("extracts regular files with their directories", () => {
    const out = join(tmp.dir, "a");
    mkdirSync(out);
    const data = Uint8Array.from({ length: 1500 }, (_, i) => i & 0xff);
    const files = extractTar(
      tarBytes([
        { name: "d/x.bin", data },
        { name: "d/e/y.txt", data: new TextEncoder().encode("hi") },
      ]),
      out,
      "t.tar",
    );
    expect(files).toEqual(["d/x.bin", "d/e/y.txt"]);
    expect(new Uint8Array(readFileSync(join(out, "d/x.bin")))).toEqual(data);
    expect(readFileSync(join(out, "d/e/y.txt"), "utf8")).toBe("hi");
  });

  test("rejects entries escaping the target directory", () => {
    expect(() => extractTar(tarBytes([{ name: "../evil", data: new Uint8Array(1) }]), join(tmp.dir, "b"), "evil.tar")).toThrow(DataError);
  });

  test("rejects a corrupt header and a truncated archive, naming the archive", () => {
    const good = tarBytes([{ name: "f", data: new Uint8Array(2000) }]);
    const corrupt = good.slice();
    corrupt[10] = 65;
    expect(() => extractTar(corrupt, join(tmp.dir, "c"), "bad.tar")).toThrow(/bad\.tar.*checksum/);
    expect(() => extractTar(good.subarray(0, 1024), join(tmp.dir, "c"), "short.tar")).toThrow(/short\.tar.*truncated/);
  });

  test.skipIf(!Bun.which("tar"))("reads archives made by GNU tar, including long names", () => {
    const src = join(tmp.dir, "src");
    const longDir = "l".repeat(120);
    mkdirSync(join(src, longDir), { recursive: true });
    Bun.spawnSync(["sh", "-c", `printf abc > '${join(src, longDir, "f.txt")}' && printf xyz > '${join(src, "g.bin")}'`]);
    const archive = join(tmp.dir, "gnu.tar.gz");
    const r = Bun.spawnSync(["tar", "czf", archive, "-C", src, "."]);
    expect(r.exitCode).toBe(0);
    const out = join(tmp.dir, "gnu-out");
    mkdirSync(out);
    extractTar(new Uint8Array(gunzipSync(readFileSync(archive))), out, archive);
    expect(readFileSync(join(out, longDir, "f.txt"), "utf8")).toBe("abc");
    expect(readFileSync(join(out, "g.bin"), "utf8")).toBe("xyz");
  });
});

import { existsSync, readdirSync } from "node:fs";
import { cachedCheck, saveCheck } from "../check-cache.ts";

export interface TorchInstall {
  python: string;
  torch: string;
  cuda: boolean;
  devices: number;
}

export type TorchProbe = { found: TorchInstall } | { missing: string };

/**
 * Pythons tried, in order, when engine.python is "auto": $PRUNING_HARNESS_PYTHON, the
 * python3 on PATH (a venv or conda env, a GPU box's CUDA build), then the system one
 * (Debian's python3-torch installs there).
 */
export function pythonCandidates(setting = "auto"): string[] {
  if (setting !== "auto") return [setting];
  const env = process.env.PRUNING_HARNESS_PYTHON;
  return [...new Set([...(env ? [env] : []), "python3", "/usr/bin/python3"])];
}

const probes = new Map<string, Promise<TorchProbe>>();

/** The first candidate that imports torch, with what it sees; cached per process (an import costs 1-3 s). */
export function probeTorch(setting = "auto"): Promise<TorchProbe> {
  let p = probes.get(setting);
  if (!p) {
    const pythons = pythonCandidates(setting);
    // Workers of one device slot share the answer (check-cache.ts): each probe starts Python and imports torch.
    const cached = cachedCheck<TorchProbe>("torch-probe", pythons);
    p = cached
      ? Promise.resolve(cached)
      : probe(pythons).then((r) => {
          if ("found" in r) saveCheck("torch-probe", pythons, r);
          return r;
        });
    probes.set(setting, p);
  }
  return p;
}

const SCRIPT =
  "import json, torch; c = torch.cuda.is_available(); print(json.dumps({'torch': torch.__version__, 'cuda': c, 'devices': torch.cuda.device_count() if c else 0}))";

async function probe(pythons: string[]): Promise<TorchProbe> {
  const failures: string[] = [];
  for (const python of pythons) {
    let out: string, code: number;
    try {
      const child = Bun.spawn([python, "-c", SCRIPT], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
      [out, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
      if (code !== 0) {
        const err = (await new Response(child.stderr).text()).trim().split("\n").at(-1) ?? "";
        failures.push(`${python}: ${err || `exit ${code}`}`);
        continue;
      }
    } catch (e) {
      failures.push(`${python}: ${(e as Error).message.split("\n")[0]}`);
      continue;
    }
    const j = JSON.parse(out.trim().split("\n").at(-1)!) as { torch: string; cuda: boolean; devices: number };
    return { found: { python, ...j } };
  }
  return { missing: `no Python with torch (${failures.join("; ")}); install it (Debian: apt install python3-torch) or set engine.python` };
}

/**
 * Whether this machine has an NVIDIA GPU driver loaded: checked before probing torch so
 * that engine.name=auto costs nothing on the many machines without one.
 */
export function nvidiaDriverPresent(): boolean {
  if (existsSync("/proc/driver/nvidia/version")) return true;
  try {
    return readdirSync("/dev").some((d) => /^nvidia\d+$/.test(d));
  } catch {
    return false;
  }
}

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
// tfjs-core alone registers no gradients; the full @tensorflow/tfjs bundle imports this.
import "@tensorflow/tfjs-core/dist/register_all_gradients";

export type TfjsBackendChoice = "auto" | "cpu";

export interface TfjsBackendResult {
  /** "tensorflow" when a native binding loaded, else "cpu" (pure JS). */
  backend: string;
  /** Why the native bindings did not load, when they did not. */
  notes: string[];
}

let resolved: Promise<TfjsBackendResult> | undefined;

/**
 * Native TensorFlow bindings are optional dependencies: their install downloads
 * libtensorflow, which fails offline, and requiring them without it throws. Any
 * failure falls back to the pure-JS cpu backend, the harness's reference oracle.
 */
export function initTfjs(choice: TfjsBackendChoice): Promise<TfjsBackendResult> {
  if (choice === "cpu") return useCpu().then(() => ({ backend: "cpu", notes: [] }));
  return (resolved ??= (async () => {
    const notes: string[] = [];
    for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
      try {
        await import(pkg);
        if (await tf.setBackend("tensorflow")) return { backend: "tensorflow", notes };
        notes.push(`${pkg}: loaded but the tensorflow backend did not initialise`);
      } catch (e) {
        notes.push(`${pkg}: ${((e as Error).message ?? String(e)).split("\n")[0]}`);
      }
    }
    await useCpu();
    return { backend: "cpu", notes };
  })());
}

export { tf };

async function useCpu(): Promise<void> {
  await tf.setBackend("cpu");
  // The cpu backend prints a banner recommending tfjs-node on first use; the harness
  // reports why native bindings did not load itself (doctor, run records).
  (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
}

/**
 * TensorFlow.js backend selection: tfjs-node when it is installed (native, fastest), otherwise the
 * WebAssembly backend (about 4× faster than the pure-JS cpu backend on our machines).
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";

/** The backend names initBackend can end up with. */
export type BackendName = "tensorflow" | "wasm" | "cpu";

/**
 * Selects and initialises the TF.js backend once per process; later calls return the active backend
 * without switching (the state lives in TF.js's engine, not in this module).
 *
 * @example
 * await initBackend(); // "wasm" here, "tensorflow" where @tensorflow/tfjs-node is installed
 */
export async function initBackend(prefer?: BackendName): Promise<BackendName> {
  const active = tf.engine().backendName as BackendName | null;
  if (active && (prefer === undefined || prefer === active)) return active;
  const order: BackendName[] = prefer ? [prefer] : ["tensorflow", "wasm", "cpu"];
  for (const name of order) {
    if (name === "tensorflow") {
      // A variable specifier keeps TypeScript and bundlers from requiring the optional package.
      const optional = "@tensorflow/tfjs-node";
      try {
        await import(optional);
      } catch {
        continue;
      }
    }
    if (tf.findBackendFactory(name) === null && tf.findBackend(name) === null) continue;
    if (await tf.setBackend(name)) {
      await tf.ready();
      return name;
    }
  }
  await tf.setBackend("cpu");
  await tf.ready();
  return "cpu";
}

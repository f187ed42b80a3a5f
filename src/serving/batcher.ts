/**
 * Dynamic batching: requests that arrive together are scored in one forward pass. A TF.js op costs
 * tens of microseconds whatever its size, so for small requests the network costs the same for 1 row as
 * for 64 (a 1-row forward pass of the demo's model is ~10 ops); scoring the rows of every request
 * parsed in one turn of the event loop at once cuts the per-request cost under concurrent load, and
 * adds no waiting: a lone request is scored in the same turn it arrived.
 */
import type { ScoringInput } from "./input.js";
import type { Predictor } from "./predictor.js";

interface Pending {
  input: ScoringInput;
  resolve: (predictions: number[]) => void;
  reject: (err: unknown) => void;
}

/** Options of {@link Batcher}. */
export interface BatcherOptions {
  /** Requests with at least this many rows are scored alone (they gain nothing from company). Default 64. */
  maxRows?: number;
  /** How the batch waits for the rest of this turn's requests; default `setImmediate`. */
  schedule?: (fn: () => void) => void;
}

/**
 * Scores requests through `predictor`, batching those that arrive in the same event-loop turn.
 *
 * @example
 * const batcher = new Batcher(predictor);
 * const [a, b] = await Promise.all([batcher.predict(input1), batcher.predict(input2)]); // one forward pass
 */
export class Batcher {
  private readonly predictor: Pick<Predictor, "predict">;
  private readonly maxRows: number;
  private readonly schedule: (fn: () => void) => void;
  private queue: Pending[] = [];
  private queuedRows = 0;

  constructor(predictor: Pick<Predictor, "predict">, options: BatcherOptions = {}) {
    this.predictor = predictor;
    this.maxRows = options.maxRows ?? 64;
    this.schedule = options.schedule ?? setImmediate;
  }

  /** The predictions for `input`'s rows, in order. */
  predict(input: ScoringInput): Promise<number[]> {
    if (input.rows >= this.maxRows) {
      try {
        return Promise.resolve(this.predictor.predict(input));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return new Promise((resolve, reject) => {
      if (this.queue.length === 0) this.schedule(() => this.flush());
      this.queue.push({ input, resolve, reject });
      this.queuedRows += input.rows;
      if (this.queuedRows >= this.maxRows) this.flush();
    });
  }

  private flush(): void {
    const batch = this.queue;
    if (batch.length === 0) return;
    const rows = this.queuedRows;
    this.queue = [];
    this.queuedRows = 0;
    if (batch.length === 1) {
      const only = batch[0]!;
      try {
        only.resolve(this.predictor.predict(only.input));
      } catch (err) {
        only.reject(err);
      }
      return;
    }
    const cols = batch[0]!.input.cols;
    const values = new Float32Array(rows * cols);
    let at = 0;
    for (const p of batch) {
      values.set(p.input.values, at);
      at += p.input.values.length;
    }
    let predictions: number[];
    try {
      predictions = this.predictor.predict({ rows, cols, values });
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    let row = 0;
    for (const p of batch) {
      p.resolve(predictions.slice(row, row + p.input.rows));
      row += p.input.rows;
    }
  }
}

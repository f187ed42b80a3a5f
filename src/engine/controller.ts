/**
 * KasminaMicro, the germination controller: after `patience` epochs without a val-loss improvement of at
 * least `delta`, and while accuracy is below `accThreshold`, it germinates the dormant seed with the
 * lowest health signal (EXPERIMENT.md §2, P2 semantics).
 */
import type { SeedManager } from "./seeds.js";

/** Controller settings; the run script hard-codes patience 15 and delta 5e-4. */
export interface KasminaOptions {
  patience?: number;
  delta?: number;
  accThreshold?: number;
}

/**
 * Plateau detector + germination trigger.
 *
 * @example
 * const kasmina = new KasminaMicro(manager, { patience: 15, delta: 5e-4, accThreshold: 0.95 });
 * if (kasmina.step(valLoss, valAcc, epoch)) rebuildOptimizer();
 */
export class KasminaMicro {
  readonly patience: number;
  readonly delta: number;
  readonly accThreshold: number;
  plateau = 0;
  prevLoss = Number.POSITIVE_INFINITY;
  private readonly manager: SeedManager;

  constructor(manager: SeedManager, options: KasminaOptions = {}) {
    this.manager = manager;
    this.patience = options.patience ?? 15;
    this.delta = options.delta ?? 1e-4;
    this.accThreshold = options.accThreshold ?? 0.95;
  }

  /**
   * Feeds one epoch's validation result; returns true when a seed germinated. As at P2, the plateau
   * counter resets whenever the gate opens, even if no seed could be germinated.
   */
  step(valLoss: number, valAcc: number, epoch = 0): boolean {
    if (this.prevLoss - valLoss < this.delta) this.plateau += 1;
    else this.plateau = 0;
    this.prevLoss = valLoss;
    if (valAcc < this.accThreshold && this.plateau >= this.patience) {
      this.plateau = 0;
      const seedId = this.selectSeed();
      return seedId !== undefined && this.manager.requestGermination(seedId, epoch);
    }
    return false;
  }

  /** The dormant seed with the strictly lowest finite health signal, in registration order; else undefined. */
  selectSeed(): string | undefined {
    let best: string | undefined;
    let bestSignal = Number.POSITIVE_INFINITY;
    for (const [id, entry] of this.manager.seeds) {
      if (entry.status !== "dormant") continue;
      const signal = entry.seed.healthSignal();
      if (signal < bestSignal) {
        bestSignal = signal;
        best = id;
      }
    }
    return best;
  }
}

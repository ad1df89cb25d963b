/**
 * Proportional-share scheduling of vCPUs on the one CPU, charged in exactly the guest
 * instructions each ran (never sampled) plus a fixed cost per VM exit (EXIT_COST in
 * hypervisor.ts): every vCPU accumulates virtual runtime = charge / weight, and the runnable vCPU
 * with the least runs next for one slice, which the VMX preemption timer enforces to the
 * instruction. A vCPU that wakes from a block starts no further behind than the least-advanced
 * runnable one, less a small credit so that it runs first, so sleeping banks almost nothing. A
 * guest that never halts gets its share and no more: it cannot starve the others.
 */
import type { Vcpu } from './vcpu.js';

export class Scheduler {
  private readonly vruntime = new Map<Vcpu, number>();
  /** Context switches (a different vCPU than last time was picked). */
  switches = 0;
  private last: Vcpu | null = null;

  add(vcpu: Vcpu): void {
    this.vruntime.set(vcpu, this.minimum());
  }

  private minimum(among?: readonly Vcpu[]): number {
    let min = Infinity;
    for (const [v, t] of this.vruntime) if (!among || among.includes(v)) min = Math.min(min, t);
    return min === Infinity ? 0 : min;
  }

  /** The runnable vCPU with the least virtual runtime (ties: the earlier VM). */
  pick(runnable: readonly Vcpu[]): Vcpu | null {
    let best: Vcpu | null = null, bestT = Infinity;
    for (const v of runnable) {
      const t = this.vruntime.get(v)!;
      if (t < bestT || (t === bestT && best !== null && v.vm.id < best.vm.id)) { best = v; bestT = t; }
    }
    if (best !== null && best !== this.last) { this.switches++; this.last = best; }
    return best;
  }

  charge(vcpu: Vcpu, instructions: number): void {
    this.vruntime.set(vcpu, this.vruntime.get(vcpu)! + instructions / vcpu.vm.weight);
  }

  /**
   * A blocked vCPU became runnable: no credit for the time it slept beyond `credit` instructions
   * (a little, so that it runs before the vCPU it woke beside, as CFS's sleeper credit does).
   */
  wake(vcpu: Vcpu, runnable: readonly Vcpu[], credit = 0): void {
    const others = runnable.filter((v) => v !== vcpu);
    if (others.length === 0) return;
    this.vruntime.set(vcpu, Math.max(this.vruntime.get(vcpu)!, this.minimum(others) - credit / vcpu.vm.weight));
  }

  /** Restores a vCPU's accounting (snapshots, migration). */
  setVirtualRuntime(vcpu: Vcpu, value: number): void {
    this.vruntime.set(vcpu, value);
  }

  virtualRuntime(vcpu: Vcpu): number {
    return this.vruntime.get(vcpu) ?? 0;
  }
}

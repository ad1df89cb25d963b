/**
 * Reverse execution for the debugger (reverse-stepi, reverse-continue; GDB's bs and bc), built on
 * the time-travel engine (hypervisor/time-travel.ts): the debugger's forward runs go through it so
 * it takes its checkpoints, and going back is restoring one and re-executing to the instruction
 * wanted.
 *
 * reverse-continue searches backwards window by window: restore the checkpoint before the window,
 * run forward to the window's end with the breakpoints and watchpoints armed, note every hit; the
 * last hit before where we were is where we go. A breakpoint stops before its instruction, as
 * forwards. A watchpoint stops before the instruction that made the access (going backwards, that
 * instruction is the one that changed the value), with "old" the value after it, as GDB shows it.
 * Catchpoints are not searched backwards. With no hit, we stop at the earliest instruction
 * history holds ("No more reverse-execution history").
 *
 * Re-execution is invisible: the exit history and counts, breakpoint hit counts and the guest's
 * console are as they were at the instruction we land on.
 */
import { TimeTravel, type TimeTravelOptions } from '../time-travel.js';
import type { Debugger, ExitRecord, ReverseExecution, StopEvent } from './debugger.js';

export class TimeTravelReverse implements ReverseExecution {
  readonly timeTravel: TimeTravel;

  /** Attaches to the debugger of a single VM under the hypervisor, from where the VM is now. */
  constructor(private readonly dbg: Debugger, options: TimeTravelOptions = {}) {
    const hv = dbg.hv;
    if (hv === null) throw new Error('reverse execution needs the hypervisor (not the bare machine)');
    if (hv.vms.length !== 1) throw new Error('reverse execution needs the VM alone on its hypervisor');
    this.timeTravel = new TimeTravel(hv, hv.vms[0]!, options);
    dbg.runHypervisor = (budget) => this.timeTravel.run(budget);
    dbg.reverse = this;
  }

  stepBack(count: number): StopEvent {
    const tt = this.timeTravel;
    const wanted = tt.position - Math.max(0, count);
    const history = [...this.dbg.exits];
    this.land(Math.max(tt.earliest, wanted), history);
    return { reason: wanted < tt.earliest ? { kind: 'history-start' } : { kind: 'step' }, target: this.dbg.current };
  }

  continueBack(): StopEvent {
    const tt = this.timeTravel, dbg = this.dbg, from = tt.position;
    const history = [...dbg.exits];
    // The search runs the guest forwards: keep what it would change about the points.
    const breakpoints = [...dbg.breakpoints], hits = breakpoints.map((b) => b.hits);
    const watchHits = dbg.watchpoints.map((w) => w.hits);
    const catchEnabled = dbg.catchpoints.map((c) => c.enabled);
    for (const c of dbg.catchpoints) c.enabled = false;
    let found: { at: number; ev: StopEvent } | null = null;
    try {
      let windowEnd = from;
      for (const start of tt.checkpointsBefore(from)) {
        if (start >= windowEnd) continue;
        this.land(start, history);
        dbg.lastStopWasBreak = false; // a breakpoint right at the window's start counts
        for (;;) {
          const left = windowEnd - tt.position;
          if (left <= 0) break;
          const ev = dbg.cont(left);
          const k = ev.reason.kind;
          if (k !== 'breakpoint' && k !== 'watchpoint') break;
          if (tt.position < from) found = { at: tt.position, ev };
        }
        if (found) break;
        windowEnd = start;
      }
    } finally {
      dbg.breakpoints.splice(0, dbg.breakpoints.length, ...breakpoints);
      breakpoints.forEach((b, i) => { b.hits = hits[i]!; });
      dbg.watchpoints.forEach((w, i) => { w.hits = watchHits[i] ?? w.hits; });
      dbg.catchpoints.forEach((c, i) => { c.enabled = catchEnabled[i] ?? c.enabled; });
    }
    if (found === null) {
      this.land(tt.earliest, history);
      return { reason: { kind: 'history-start' }, target: dbg.current };
    }
    const r = found.ev.reason;
    if (r.kind === 'watchpoint') {
      const after = dbg.watchValue(found.ev.target, r.watchpoint);
      this.land(found.at - 1, history);
      r.watchpoint.hits++;
      return { reason: { ...r, old: after }, target: dbg.current };
    }
    this.land(found.at, history);
    if (r.kind === 'breakpoint') r.breakpoint.hits++;
    return { reason: r, target: dbg.current };
  }

  /** Goes to instruction `at` with the debugger's hooks off; the exit history as it was there. */
  private land(at: number, history: readonly ExitRecord[]): void {
    const dbg = this.dbg, hv = dbg.hv!;
    const observer = hv.observer;
    hv.observer = null;
    try {
      this.timeTravel.goTo(at);
    } finally {
      hv.observer = observer;
    }
    dbg.exits.splice(0, dbg.exits.length, ...history.filter((e) => e.retired <= at));
    dbg.current = dbg.targets[0]!;
    dbg.lastStopWasBreak = true; // going forward from here does not stop here again
  }
}

/**
 * The debugger core: breakpoints, watchpoints and catchpoints, and resuming the guest until one of
 * them (or a step) stops it, on the bare machine or on VMs under the hypervisor.
 *
 * Nothing guest-visible changes by being attached. Breakpoints are not INT3 bytes in guest memory:
 * the CPU asks the debugger at instruction boundaries whose linear address is in `cpu.breakAt`
 * (or at every boundary while stepping), before executing there. Watchpoints see every data access
 * through `cpu.onDataAccess` (the TLB then caches nothing) and stop after the accessing instruction.
 * Under the hypervisor a stop is an immediate preemption-timer exit, which the hypervisor handles as
 * the end of a slice; the debugger marks those exits as its own in the exit history and counts.
 * Exits are observed through `hv.observer` after their handler ran (catch exit, history, trace).
 */
import type { Cpu, CpuEventKind } from '../../emulator/cpu/cpu.js';
import type { BareMachine } from '../../emulator/machine/bare-machine.js';
import { ExitReason } from '../../emulator/vmx/controls.js';
import type { VmExit } from '../../emulator/vmx/vmx.js';
import { decode, isDecodeFailure, type DecodedInsn } from '../../emulator/isa/decoder.js';
import type { ExitAction } from '../exits/context.js';
import { reasonName, type GuestExit } from '../exits/decode.js';
import type { Hypervisor, RunResult } from '../hypervisor.js';
import type { Vm } from '../vm.js';
import { evaluate, evaluateValue, ExpressionError, VOID, type ExpressionContext, type Value } from './expression.js';
import { linearToPhysical, readLinear, writeLinear } from './page-walk.js';
import { Symbols } from './symbols.js';
import { BareTarget, GPR_NAMES, SEGMENT_INDEX, VmTarget, type DebugTarget, type TargetEnding } from './target.js';

export interface Breakpoint {
  id: number;
  /** Where: a guest-linear ("virtual") or guest-physical address. */
  space: 'virtual' | 'physical';
  address: number;
  /** Only in this VM (its id), or in every one. */
  vm: number | null;
  temporary: boolean;
  condition: string | null;
  enabled: boolean;
  hits: number;
  /** As the user wrote it (`foo`, `hello.asm:12`, `*0x100020`). */
  spec: string;
}

export type WatchAccess = 'write' | 'read' | 'access';

export interface Watchpoint {
  id: number;
  access: WatchAccess;
  space: 'virtual' | 'physical';
  address: number;
  length: number;
  vm: number | null;
  enabled: boolean;
  hits: number;
  spec: string;
}

export type Catchpoint =
  | { id: number; kind: 'exit'; reason: number | null; vm: number | null; enabled: boolean; hits: number }
  | { id: number; kind: 'exception'; vector: number | null; vm: number | null; enabled: boolean; hits: number }
  | { id: number; kind: 'interrupt'; vector: number | null; vm: number | null; enabled: boolean; hits: number }
  | { id: number; kind: 'cr3'; vm: number | null; enabled: boolean; hits: number }
  | { id: number; kind: 'hypercall'; number: number | null; vm: number | null; enabled: boolean; hits: number };

/** One VM exit as the history keeps it. */
export interface ExitRecord {
  vm: number;
  reason: number;
  name: string;
  qualification: number;
  guestRip: number;
  instructionLength: number;
  decoded: GuestExit;
  action: ExitAction;
  /** EAX at the exit (the hypercall number for VMCALL). */
  eax: number;
  /** A preemption-timer exit the debugger caused to stop the guest. */
  debugger: boolean;
  /** Guest instructions the VM had retired. */
  retired: number;
}

/** Why the guest stopped. */
export type StopReason =
  /** `conditionError`: the breakpoint's condition could not be evaluated, so it stopped (as GDB does), with the error's text. */
  | { kind: 'breakpoint'; breakpoint: Breakpoint; conditionError?: string }
  | { kind: 'watchpoint'; watchpoint: Watchpoint; pc: number; address: number; size: number; write: boolean; old: number | null; value: number | null }
  | { kind: 'catch-exit'; catchpoint: Catchpoint; exit: ExitRecord }
  | { kind: 'catch-exception'; catchpoint: Catchpoint; vector: number; pc: number }
  | { kind: 'catch-interrupt'; catchpoint: Catchpoint; vector: number; pc: number }
  | { kind: 'catch-cr3'; catchpoint: Catchpoint; old: number; value: number }
  | { kind: 'catch-hypercall'; catchpoint: Catchpoint; exit: ExitRecord }
  | { kind: 'step' }
  | { kind: 'interrupted' }
  | { kind: 'budget' }
  /** Reverse execution reached the earliest point it can go back to. */
  | { kind: 'history-start' }
  /** `ending`: how the guest ended (null when the run ended with every VM stopped and this one alive). */
  | { kind: 'exited'; why: string; ending: TargetEnding | null }
  | { kind: 'halted'; why: string };

export interface StopEvent {
  reason: StopReason;
  /** The target that stopped (the debugger's current one afterwards). */
  target: DebugTarget;
}

/** What the trace sees: an instruction about to execute, or a VM exit after its handler ran. */
export type TraceEvent =
  | { kind: 'instruction'; target: DebugTarget; linear: number }
  | { kind: 'exit'; target: DebugTarget; exit: ExitRecord };

/** A step in progress: stop at the first boundary of `target` where `until` holds. */
interface StepGoal {
  target: DebugTarget;
  until: (t: DebugTarget, linear: number) => boolean;
}

const HISTORY = 512;
export const DEFAULT_BUDGET = 4_000_000_000;

/**
 * Going backwards (reverse-stepi, reverse-continue, GDB's bs/bc). The debugger has none of its own:
 * a time-travel engine plugs in here (`dbg.reverse = ...`) and both front ends use it when set.
 */
export interface ReverseExecution {
  /** Back `count` instructions of the current target. */
  stepBack(count: number): StopEvent;
  /** Back to the most recent breakpoint or watchpoint hit, or the earliest reachable point. */
  continueBack(): StopEvent;
}

export class Debugger {
  readonly targets: DebugTarget[];
  current: DebugTarget;
  /** Reverse execution, when a time-travel engine is attached. */
  reverse: ReverseExecution | null = null;
  /** Each target's symbols (its own image's). */
  private readonly symbolTables = new Map<DebugTarget, Symbols>();
  readonly breakpoints: Breakpoint[] = [];
  readonly watchpoints: Watchpoint[] = [];
  readonly catchpoints: Catchpoint[] = [];
  readonly exits: ExitRecord[] = [];
  /**
   * GDB's value history: the values `print` has shown, oldest first ($1 is the first). Every
   * expression reads it (`$N`, `$`, `$$`, `$$N`), breakpoint conditions included, so it lives here
   * with the session rather than with one command interpreter.
   */
  readonly valueHistory: Value[] = [];
  /**
   * GDB's convenience variables by name without the `$`, in the order they came to be (GDB's `show
   * convenience` lists the newest first): `x` sets `_` (the address of the last unit it examined)
   * and `__` (that unit's contents), an assignment (`set $foo = 5`, `print $foo = 5`) any other; an
   * expression naming one nothing has set creates it void, as GDB's parser does.
   */
  readonly convenience = new Map<string, Value>();
  /** Preemption-timer exits the debugger caused, per VM (subtracted from exit counts). */
  readonly inducedExits = new Map<number, number>();
  /** Instruction trace sink (`trace on FILE`): every instruction as it executes, with exits interleaved. */
  trace: ((event: TraceEvent) => void) | null = null;
  private nextId = 1;
  private pending: StopEvent | null = null;
  private goal: StepGoal | null = null;
  /** Resuming from where we stopped: breakpoints there are not hit again before an instruction retires. */
  private skip: { target: DebugTarget; retired: number } | null = null;
  private induced = false;
  private lastCr3 = new Map<DebugTarget, number>();
  private readonly cpu: Cpu;
  private readonly originalDeliverEvent: Cpu['deliverEvent'];
  /** The last stop was at a point the next resume must not stop at again (set by reverse execution too). */
  lastStopWasBreak = false;
  /** How the hypervisor is run (a time-travel engine interposes to take its checkpoints). */
  runHypervisor: ((budget: number) => RunResult) | null = null;

  /** `symbols`: one table for every target, or one per VM in the hypervisor's order. */
  constructor(readonly machine: { bare: BareMachine } | { hv: Hypervisor }, symbols: Symbols | readonly Symbols[] = new Symbols(null)) {
    if ('bare' in machine) {
      this.targets = [new BareTarget(machine.bare)];
      this.cpu = machine.bare.cpu;
    } else {
      this.targets = machine.hv.vms.map((vm) => new VmTarget(machine.hv, vm));
      this.cpu = machine.hv.cpu;
      machine.hv.observer = (vm, exit, decoded, action) => this.observeExit(vm, exit, decoded, action);
    }
    if (this.targets.length === 0) throw new Error('debugger: no VM to debug');
    this.current = this.targets[0]!;
    this.targets.forEach((t, i) => this.symbolTables.set(t, Array.isArray(symbols) ? symbols[i] ?? new Symbols(null) : symbols as Symbols));
    this.originalDeliverEvent = this.cpu.deliverEvent;
    this.cpu.history ??= new Int32Array(256);
  }

  get hv(): Hypervisor | null { return 'hv' in this.machine ? this.machine.hv : null; }

  /** The current target's symbols. */
  get symbols(): Symbols { return this.symbolsOf(this.current); }

  symbolsOf(t: DebugTarget): Symbols { return this.symbolTables.get(t)!; }

  // ------------------------------------------------------------------ points

  addBreakpoint(bp: Omit<Breakpoint, 'id' | 'hits' | 'enabled'>): Breakpoint {
    const b: Breakpoint = { ...bp, id: this.nextId++, hits: 0, enabled: true };
    this.breakpoints.push(b);
    return b;
  }

  addWatchpoint(wp: Omit<Watchpoint, 'id' | 'hits' | 'enabled'>): Watchpoint {
    const w: Watchpoint = { ...wp, id: this.nextId++, hits: 0, enabled: true };
    this.watchpoints.push(w);
    return w;
  }

  addCatchpoint(cp: Catchpoint extends infer C ? C extends Catchpoint ? Omit<C, 'id' | 'hits' | 'enabled'> : never : never): Catchpoint {
    const c = { ...cp, id: this.nextId++, hits: 0, enabled: true } as Catchpoint;
    this.catchpoints.push(c);
    return c;
  }

  /** Deletes a breakpoint, watchpoint or catchpoint by number (all of them with none). */
  delete(id?: number): boolean {
    let found = false;
    for (const list of [this.breakpoints, this.watchpoints, this.catchpoints] as { id: number }[][]) {
      for (let i = list.length - 1; i >= 0; i--) if (id === undefined || list[i]!.id === id) { list.splice(i, 1); found = true; }
    }
    return found;
  }

  setEnabled(id: number, enabled: boolean): boolean {
    for (const p of [...this.breakpoints, ...this.watchpoints, ...this.catchpoints]) if (p.id === id) { p.enabled = enabled; return true; }
    return false;
  }

  // ------------------------------------------------------------------ expressions

  /** Expression context over a target's registers, symbols and memory (linear addresses). */
  context(t: DebugTarget = this.current): ExpressionContext {
    return {
      register: (name) => registerValue(t, name),
      symbol: (name) => this.symbolsOf(t).lookup(name),
      memory: (address, size) => {
        const b = readLinear(t, address, size);
        if (b === null) throw new ExpressionError(`Cannot access memory at address 0x${address.toString(16)}`);
        let v = 0;
        for (let i = size - 1; i >= 0; i--) v = v * 256 + b[i]!;
        return v;
      },
      convenience: (name) => {
        const v = this.convenience.get(name);
        if (v === undefined) this.convenience.set(name, VOID);
        return v ?? VOID;
      },
      assign: (target, value) => {
        if (target.kind === 'convenience') { this.convenience.set(target.name, value === VOID ? value : value >>> 0); return; }
        const v = value as number; // the parser stores void only into a convenience variable
        if (target.kind === 'register') {
          // One the debugger reads but cannot write (a segment register, a control register).
          if (!setRegister(t, target.name, v)) throw new ExpressionError(`Invalid register \`$${target.name}'`);
          return;
        }
        const bytes = new Uint8Array(target.size);
        for (let i = 0; i < target.size; i++) bytes[i] = (v >>> (i * 8)) & 0xff;
        if (!writeLinear(t, target.address, bytes)) throw new ExpressionError(`Cannot access memory at address 0x${target.address.toString(16)}`);
      },
      history: this.valueHistory,
    };
  }

  /** An expression's value as a number (void is an error). */
  evaluate(text: string, t: DebugTarget = this.current): number {
    return evaluate(text, this.context(t));
  }

  /** An expression's value, which may be void (`$nosuch`). */
  evaluateValue(text: string, t: DebugTarget = this.current): Value {
    return evaluateValue(text, this.context(t));
  }

  /** Appends a value (void too, as GDB keeps it) to the value history; returns its number (the N of `$N`). */
  recordValue(value: Value): number {
    return this.valueHistory.push(value === VOID ? value : value >>> 0);
  }

  /** The current instruction's linear address (CS base + EIP). */
  pc(t: DebugTarget = this.current): number {
    return (t.segment(1).base + t.eip) >>> 0;
  }

  /** The instruction at a linear address, or null. */
  instructionAt(t: DebugTarget, linear: number): DecodedInsn | null {
    const bytes = readLinear(t, linear, 15) ?? readLinear(t, linear, 16 - (linear & 0xf) || 1);
    if (bytes === null) return null;
    try {
      const bits = t.segment(1).attr & 0x4000 ? 32 : 16;
      const d = decode((i) => { if (i >= bytes.length) throw new RangeError('end'); return bytes[i]!; }, bits);
      return isDecodeFailure(d) ? null : d;
    } catch {
      return null;
    }
  }

  // ------------------------------------------------------------------ running

  /** Runs until a breakpoint, watchpoint, catchpoint or the end of the guest (or `budget` instructions). */
  cont(budget = DEFAULT_BUDGET): StopEvent {
    return this.resume(null, budget);
  }

  /**
   * `continue` that keeps the host's event loop turning: runs in slices of `slice` guest
   * instructions with a turn of the event loop between them, and stops ('interrupted') once
   * `interrupted()` says so (GDB's Ctrl-C, the prompt's SIGINT, a client that went away).
   */
  async contInterruptible(interrupted: () => boolean, slice = 500_000): Promise<StopEvent> {
    for (;;) {
      if (interrupted()) return { reason: { kind: 'interrupted' }, target: this.current };
      const ev = this.cont(slice);
      if (ev.reason.kind !== 'budget') return ev;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Executes `count` instructions of the current target (events delivered on the way count with the instruction after them). */
  stepi(count = 1): StopEvent {
    const t = this.current, start = t.retired();
    return this.resume({ target: t, until: (x) => x.retired() >= start + count }, DEFAULT_BUDGET);
  }

  /** Like stepi, but a CALL runs to its return. */
  nexti(): StopEvent {
    const t = this.current, pc = this.pc(t), d = this.instructionAt(t, pc);
    if (d === null || d.form.mnemonic !== 'CALL') return this.stepi();
    const esp = t.getGpr(4), after = (pc + d.length) >>> 0;
    return this.resume({ target: t, until: (x, lin) => lin === after && x.getGpr(4) >= esp }, DEFAULT_BUDGET);
  }

  /** Runs to `linear` in the current target (or any stop before). */
  until(linear: number): StopEvent {
    const t = this.current;
    return this.resume({ target: t, until: (_x, lin) => lin === linear >>> 0 }, DEFAULT_BUDGET);
  }

  /** Source-line stepping: step enters calls, next steps over them. Falls back to instructions without line info. */
  stepLine(over: boolean, maxInstructions = 1_000_000): StopEvent {
    const t = this.current;
    const start = this.symbols.lineAt(this.pc(t));
    if (!start) return over ? this.nexti() : this.stepi();
    let ev: StopEvent;
    let n = 0;
    do {
      ev = over ? this.nexti() : this.stepi();
      if (ev.reason.kind !== 'step') return ev;
      const l = this.symbols.lineAt(this.pc(t));
      if (l && (l.line !== start.line || l.file !== start.file)) return ev;
    } while (++n < maxInstructions);
    return ev;
  }

  /** Runs until the current function returns: the return address from the frame (EBP) or, at a label, the stack top. */
  finish(): StopEvent {
    const t = this.current, pc = this.pc(t);
    const atEntry = this.symbols.exact(pc) !== undefined;
    const ebp = t.getGpr(5), esp = t.getGpr(4);
    const slot = atEntry ? esp : (ebp + 4) >>> 0;
    const ret = this.context(t).memory(slot, 4) >>> 0;
    return this.resume({ target: t, until: (x, lin) => lin === ret && x.getGpr(4) > slot }, DEFAULT_BUDGET);
  }

  /** Resumes with hooks installed; returns why it stopped. */
  private resume(goal: StepGoal | null, budget: number): StopEvent {
    // A step needs the current target alive; continue, any VM (the others run on).
    const ending = this.current.ending();
    if (ending && (goal !== null || this.targets.every((t) => t.stopped()))) return { reason: { kind: 'exited', why: ending.why, ending }, target: this.current };
    this.goal = goal;
    this.pending = null;
    this.skip = this.lastStopWasBreak || goal !== null ? { target: this.current, retired: this.current.retired() } : null;
    for (const t of this.targets) this.lastCr3.set(t, t.cr(3));
    this.install();
    let ev: StopEvent;
    try {
      ev = this.runMachine(budget);
    } finally {
      this.uninstall();
      this.goal = null;
    }
    this.current = ev.target;
    const k = ev.reason.kind;
    this.lastStopWasBreak = k !== 'budget' && k !== 'interrupted';
    if (ev.reason.kind === 'breakpoint' && ev.reason.breakpoint.temporary) this.delete(ev.reason.breakpoint.id);
    return ev;
  }

  private runMachine(budget: number): StopEvent {
    if ('bare' in this.machine) {
      const t = this.targets[0] as BareTarget;
      const stop = this.machine.bare.run(budget);
      if (this.pending) return this.pending;
      switch (stop.kind) {
        case 'exit': t.end = { why: `exited with status ${stop.status}`, status: stop.status, fault: false }; return { reason: { kind: 'exited', why: t.end.why, ending: t.end }, target: t };
        case 'triple-fault': t.end = { why: `triple fault (vector ${stop.vector})`, status: null, fault: true }; return { reason: { kind: 'exited', why: t.end.why, ending: t.end }, target: t };
        case 'halted': return { reason: { kind: 'halted', why: stop.interruptsEnabled ? 'halted, no interrupt will come' : 'halted with interrupts disabled' }, target: t };
        case 'budget': return { reason: { kind: 'budget' }, target: t };
        case 'debug': return { reason: { kind: 'interrupted' }, target: t };
      }
    }
    const hv = this.machine.hv;
    const r = this.runHypervisor ? this.runHypervisor(budget) : hv.run(budget);
    if (this.pending) return this.pending;
    if (r.kind === 'all-stopped') {
      const ending = this.current.ending();
      return { reason: { kind: 'exited', why: ending?.why ?? 'every VM stopped', ending }, target: this.current };
    }
    return { reason: { kind: r.kind === 'budget' ? 'budget' : 'interrupted' }, target: this.current };
  }

  private install(): void {
    const cpu = this.cpu;
    cpu.breakAt.clear();
    let every = this.goal !== null || this.trace !== null;
    for (const b of this.breakpoints) {
      if (!b.enabled) continue;
      if (b.space === 'virtual') cpu.breakAt.add(b.address | 0); else every = true;
    }
    if (this.catchpoints.some((c) => c.enabled && c.kind === 'cr3')) every = true;
    cpu.breakEvery = every;
    cpu.onBreak = (lin) => this.atBoundary(lin);
    cpu.onDataAccess = this.watchpoints.some((w) => w.enabled) ? (lin, phys, size, write) => this.atAccess(lin, phys, size, write) : null;
    cpu.breakPending = false;
    if (this.catchpoints.some((c) => c.enabled && (c.kind === 'exception' || c.kind === 'interrupt'))) {
      const original = this.originalDeliverEvent;
      cpu.deliverEvent = (vector: number, errorCode: number, kind: CpuEventKind): void => {
        if (vector < 32 && (kind === 'exception' || kind === 'software-exception' || kind === 'injected-exception')) this.atEvent('exception', vector);
        // External interrupts: the PIC's on the bare machine, the ones the hypervisor injects at VM entry.
        else if (kind === 'external') this.atEvent('interrupt', vector);
        original.call(cpu, vector, errorCode, kind);
      };
    }
    cpu.updateDebugHooks();
  }

  private uninstall(): void {
    const cpu = this.cpu;
    cpu.breakAt.clear();
    cpu.breakEvery = false;
    cpu.onBreak = null;
    cpu.onDataAccess = null;
    cpu.breakPending = false;
    if (cpu.deliverEvent !== this.originalDeliverEvent) delete (cpu as { deliverEvent?: unknown }).deliverEvent;
    cpu.updateDebugHooks();
    const hv = this.hv;
    if (hv) hv.pauseRequested = false;
  }

  /** The target whose code the processor is running now. */
  private running(): DebugTarget | null {
    if (this.targets.length === 1 && this.targets[0] instanceof BareTarget) return this.targets[0];
    for (const t of this.targets) if (t.onCpu) return t;
    return null;
  }

  private stop(reason: StopReason, target: DebugTarget): void {
    if (this.pending) return;
    this.pending = { reason, target };
    const hv = this.hv;
    if (hv) { hv.pauseRequested = true; this.induced = true; }
  }

  private atBoundary(lin: number): boolean {
    if (this.pending) return true;
    const t = this.running();
    if (t === null) return false;
    const l = lin >>> 0;
    if (this.stopsAt(t, l)) return true;
    if (this.trace) this.trace({ kind: 'instruction', target: t, linear: l });
    return false;
  }

  /** Whether a step goal, catchpoint or breakpoint stops `t` before the instruction at `l`. */
  private stopsAt(t: DebugTarget, l: number): boolean {
    if (this.goal && this.goal.target === t && this.goal.until(t, l)) { this.stop({ kind: 'step' }, t); return true; }
    for (const c of this.catchpoints) {
      if (c.kind !== 'cr3' || !c.enabled || (c.vm !== null && c.vm !== t.id)) continue;
      const cr3 = t.cr(3), old = this.lastCr3.get(t)!;
      if (cr3 !== old) {
        this.lastCr3.set(t, cr3);
        c.hits++;
        this.stop({ kind: 'catch-cr3', catchpoint: c, old, value: cr3 }, t);
        return true;
      }
    }
    if (this.skip && this.skip.target === t && t.retired() === this.skip.retired) return false;
    let phys: number | null | undefined;
    for (const b of this.breakpoints) {
      if (!b.enabled || (b.vm !== null && b.vm !== t.id)) continue;
      if (b.space === 'virtual') { if (b.address !== l) continue; } else {
        if (phys === undefined) phys = linearToPhysical(t, l);
        if (phys !== b.address) continue;
      }
      // A condition that cannot be evaluated stops, with its error (GDB's "Error in testing
      // condition for breakpoint N:"); a void one is false.
      let conditionError: string | undefined;
      if (b.condition !== null) {
        let ok: boolean;
        try {
          const v = this.evaluateValue(b.condition, t);
          ok = v !== VOID && v !== 0;
        } catch (e) {
          if (!(e instanceof ExpressionError)) throw e;
          ok = true;
          conditionError = e.message;
        }
        if (!ok) continue;
      }
      b.hits++;
      this.stop(conditionError === undefined ? { kind: 'breakpoint', breakpoint: b } : { kind: 'breakpoint', breakpoint: b, conditionError }, t);
      return true;
    }
    return false;
  }

  private atAccess(lin: number, phys: number, size: number, write: boolean): void {
    const t = this.running();
    if (t === null || this.pending) return;
    const l = lin >>> 0;
    const gpa = t.guestPhysical(phys);
    for (const w of this.watchpoints) {
      if (!w.enabled || (w.vm !== null && w.vm !== t.id)) continue;
      if (w.access === 'write' && !write || w.access === 'read' && write) continue;
      const at = w.space === 'virtual' ? l : gpa;
      if (at === null || at + size <= w.address || at >= w.address + w.length) continue;
      w.hits++;
      const pc = (t.segment(1).base + this.cpu.insnStart) >>> 0;
      const old = this.watchValue(t, w);
      this.stop({ kind: 'watchpoint', watchpoint: w, pc, address: at, size, write, old, value: null }, t);
      this.cpu.breakPending = true;
      return;
    }
  }

  /** The watched bytes' value (little-endian, up to 4 bytes), or null. */
  watchValue(t: DebugTarget, w: Watchpoint): number | null {
    const n = Math.min(4, w.length);
    const b = w.space === 'virtual' ? readLinear(t, w.address, n) : t.readPhys(w.address, n);
    if (b === null) return null;
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + b[i]!;
    return v;
  }

  /** An exception or interrupt is being delivered: stop at the first instruction of its handler. */
  private atEvent(kind: 'exception' | 'interrupt', vector: number): void {
    const t = this.running();
    if (t === null || this.pending) return;
    for (const c of this.catchpoints) {
      if (c.kind !== kind || !c.enabled || (c.vector !== null && c.vector !== vector) || (c.vm !== null && c.vm !== t.id)) continue;
      c.hits++;
      // An exception's instruction; for an interrupt, where it interrupts the guest.
      const pc = (t.segment(1).base + (kind === 'exception' ? this.cpu.insnStart : this.cpu.eip)) >>> 0;
      this.stop(kind === 'exception' ? { kind: 'catch-exception', catchpoint: c, vector, pc } : { kind: 'catch-interrupt', catchpoint: c, vector, pc }, t);
      this.cpu.breakPending = true;
      this.cpu.updateDebugHooks(); // with no other hook set, the CPU would not look at breakPending
      return;
    }
  }

  private observeExit(vm: Vm, exit: VmExit, decoded: GuestExit, action: ExitAction): void {
    const t = this.targets.find((x) => x.vm === vm);
    if (!t) return;
    const mine = this.induced && exit.reason === ExitReason.PREEMPTION_TIMER;
    if (mine) { this.induced = false; this.inducedExits.set(vm.id, (this.inducedExits.get(vm.id) ?? 0) + 1); }
    const rec: ExitRecord = {
      vm: vm.id, reason: exit.reason, name: reasonName(exit.reason), qualification: exit.qualification >>> 0,
      guestRip: exit.guestRip >>> 0, instructionLength: exit.instructionLength, decoded, action,
      eax: this.cpu.r[0]! >>> 0, debugger: mine, retired: t.retired(),
    };
    this.exits.push(rec);
    if (this.exits.length > HISTORY) this.exits.splice(0, this.exits.length - HISTORY);
    if (this.trace && !mine) this.trace({ kind: 'exit', target: t, exit: rec });
    if (mine || this.pending) return;
    for (const c of this.catchpoints) {
      if (!c.enabled || (c.vm !== null && c.vm !== vm.id)) continue;
      if (c.kind === 'exit' && (c.reason === null || c.reason === exit.reason)) {
        c.hits++;
        this.stop({ kind: 'catch-exit', catchpoint: c, exit: rec }, t);
        this.induced = false;
        return;
      }
      if (c.kind === 'hypercall' && decoded.kind === 'vmcall' && (c.number === null || c.number === rec.eax)) {
        c.hits++;
        this.stop({ kind: 'catch-hypercall', catchpoint: c, exit: rec }, t);
        this.induced = false;
        return;
      }
    }
  }

  /** Exit counts per reason for a VM, without the debugger's own preemption-timer exits. */
  exitCounts(vm: Vm): Map<number, number> {
    const out = new Map<number, number>();
    for (const [reason, s] of vm.exitStats) out.set(reason, s.count);
    const induced = this.inducedExits.get(vm.id) ?? 0;
    const timer = out.get(ExitReason.PREEMPTION_TIMER);
    if (timer !== undefined && induced) {
      if (timer - induced > 0) out.set(ExitReason.PREEMPTION_TIMER, timer - induced); else out.delete(ExitReason.PREEMPTION_TIMER);
    }
    return out;
  }
}

/** A register by GDB name ($eax, $ax, $al, $eip/$pc, $esp/$sp, $ebp/$fp, $eflags, segments, $cr0-$cr4). */
export function registerValue(t: DebugTarget, name: string): number | undefined {
  const n = name.toLowerCase();
  const i = (GPR_NAMES as readonly string[]).indexOf(n);
  if (i >= 0) return t.getGpr(i);
  if (n === 'eip' || n === 'pc') return t.eip;
  if (n === 'sp') return t.getGpr(4);
  if (n === 'fp') return t.getGpr(5);
  if (n === 'eflags' || n === 'flags') return t.eflags;
  if (n in SEGMENT_INDEX) return t.segment(SEGMENT_INDEX[n]!).selector;
  if (n === 'cr0' || n === 'cr2' || n === 'cr3' || n === 'cr4') return t.cr(Number(n[2]) as 0 | 2 | 3 | 4);
  const w = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'].indexOf(n);
  if (w >= 0) return t.getGpr(w) & 0xffff;
  const lo = ['al', 'cl', 'dl', 'bl'].indexOf(n);
  if (lo >= 0) return t.getGpr(lo) & 0xff;
  const hi = ['ah', 'ch', 'dh', 'bh'].indexOf(n);
  if (hi >= 0) return (t.getGpr(hi) >>> 8) & 0xff;
  return undefined;
}

/** Sets a register by name; false for an unknown one. */
export function setRegister(t: DebugTarget, name: string, v: number): boolean {
  const n = name.toLowerCase();
  const i = (GPR_NAMES as readonly string[]).indexOf(n);
  if (i >= 0) { t.setGpr(i, v); return true; }
  if (n === 'eip' || n === 'pc') { t.eip = v; return true; }
  if (n === 'sp') { t.setGpr(4, v); return true; }
  if (n === 'fp') { t.setGpr(5, v); return true; }
  if (n === 'eflags') { t.eflags = v; return true; }
  const w = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'].indexOf(n);
  if (w >= 0) { t.setGpr(w, (t.getGpr(w) & ~0xffff) | (v & 0xffff)); return true; }
  const lo = ['al', 'cl', 'dl', 'bl'].indexOf(n);
  if (lo >= 0) { t.setGpr(lo, (t.getGpr(lo) & ~0xff) | (v & 0xff)); return true; }
  const hi = ['ah', 'ch', 'dh', 'bh'].indexOf(n);
  if (hi >= 0) { t.setGpr(hi, (t.getGpr(hi) & ~0xff00) | ((v & 0xff) << 8)); return true; }
  return false;
}

const hex = (v: number, w = 0): string => '0x' + (v >>> 0).toString(16).padStart(w, '0');

/** An exit's decoded qualification in words. */
export function describeExit(e: ExitRecord): string {
  const d = e.decoded;
  switch (d.kind) {
    case 'io': return `${d.input ? 'in' : 'out'} port ${hex(d.port, 4)} size ${d.size}${d.string ? ' string' : ''}${d.rep ? ' rep' : ''}${d.input ? '' : ` value ${hex(e.eax & (d.size === 1 ? 0xff : d.size === 2 ? 0xffff : 0xffffffff))}`}`;
    case 'cr': return `${d.access} cr${d.cr} gpr ${GPR_NAMES[d.gpr] ?? d.gpr}`;
    case 'msr': return d.write ? 'wrmsr' : 'rdmsr';
    case 'vmcall': return `hypercall ${e.eax}`;
    case 'ept-violation': return `${d.access} of guest-physical ${hex(d.gpa)} (linear ${hex(d.linear)})`;
    case 'ept-misconfig': return `guest-physical ${hex(d.gpa)}`;
    case 'exception': return `vector ${d.vector}${d.errorCode !== null ? ` error ${hex(d.errorCode)}` : ''}`;
    case 'task-switch': return `selector ${hex(d.selector, 4)}`;
    case 'vmx-instruction': case 'cache-control': return d.name;
    case 'entry-failure': return `${reasonName(d.reason)} qualification ${d.qualification}`;
    default: return `qualification ${hex(e.qualification)}`;
  }
}

/**
 * GDB's command language over the debugger core: one `execute(line)` per command, returning text
 * lines and a JSON value (`--json`). Names and abbreviations follow GDB (b, c, si, ni, s, n, x/16xw,
 * i r, bt, tbreak, watch/rwatch/awatch, catch, info ...), plus the VMX view: `info vmcs`, `info
 * exits`, `info exit-counts`, `info translate`, `info vms`, `vm N`.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { formatInsn } from '../../assembler/disasm/format.js';
import { ExitReason } from '../../emulator/vmx/controls.js';
import { FIELDS, VmcsField } from '../../emulator/vmx/fields.js';
import { decode, isDecodeFailure } from '../../emulator/isa/decoder.js';
import { decodeEflags } from '../cli/report.js';
import { describeExit, registerValue, type Debugger, type ReverseExecution, type StopEvent, type WatchAccess } from './debugger.js';
import { checkExpression, evaluateStatement, ExpressionError, memoryLvalue, VOID, type Value } from './expression.js';
import { readLinear, walkGuest, walkTargetEpt } from './page-walk.js';
import { TimeTravelReverse } from './reverse.js';
import { GPR_NAMES, SEGMENT_NAMES, VmTarget, type DebugTarget } from './target.js';

export interface CommandResult {
  lines: string[];
  json: unknown;
  /** The session should end (quit, kill). */
  quit?: boolean;
}

export class CommandError extends Error {}

const hex = (v: number, w = 8): string => '0x' + (v >>> 0).toString(16).padStart(w, '0');
/** `1 byte`, `2 bytes`: a count with its noun, singular for one as GDB words it (its ngettext messages). */
const counted = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;
/** Little-endian words of guest memory read into `b`, at offset `o`. */
const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number): number => (u16(b, o) | (u16(b, o + 2) << 16)) >>> 0;

const REASONS: Record<string, number> = {
  ...Object.fromEntries(Object.entries(ExitReason).map(([k, v]) => [k.toLowerCase(), v])),
  io: ExitReason.IO_INSTRUCTION, cr: ExitReason.CR_ACCESS, msr: ExitReason.RDMSR, ept: ExitReason.EPT_VIOLATION,
  timer: ExitReason.PREEMPTION_TIMER, exception: ExitReason.EXCEPTION_NMI, interrupt: ExitReason.EXTERNAL_INTERRUPT,
};

export class CommandInterpreter {
  private readonly sources = new Map<string, string[] | null>();
  private lastX: { address: number; format: string; physical: boolean } | null = null;

  constructor(readonly dbg: Debugger) {}

  execute(line: string): CommandResult {
    const text = line.trim();
    if (text === '' || text.startsWith('#')) return { lines: [], json: null };
    const m = /^([a-z-]+|x|xp)(\/\S*)?\s*(.*)$/i.exec(text);
    if (!m) throw new CommandError(`Undefined command: "${text}".`);
    const [, word, fmt, rest] = m as unknown as [string, string, string | undefined, string];
    const cmd = word.toLowerCase();
    switch (cmd) {
      case 'b': case 'br': case 'break': return this.breakCmd(rest, false);
      case 'tb': case 'tbreak': return this.breakCmd(rest, true);
      case 'watch': case 'rwatch': case 'awatch': return this.watchCmd(cmd === 'watch' ? 'write' : cmd === 'rwatch' ? 'read' : 'access', rest);
      case 'catch': return this.catchCmd(rest);
      case 'd': case 'delete': {
        const ids = rest.split(/\s+/).filter(Boolean).map(Number);
        if (ids.length === 0) this.dbg.delete(); else for (const id of ids) if (!this.dbg.delete(id)) throw new CommandError(`No breakpoint number ${id}.`);
        return { lines: [], json: { deleted: ids } };
      }
      case 'disable': case 'enable': {
        for (const id of rest.split(/\s+/).filter(Boolean).map(Number)) if (!this.dbg.setEnabled(id, cmd === 'enable')) throw new CommandError(`No breakpoint number ${id}.`);
        return { lines: [], json: null };
      }
      case 'c': case 'cont': case 'continue': return this.stopped(this.dbg.cont());
      case 'si': case 'stepi': return this.stopped(this.dbg.stepi(rest ? this.num(rest) : 1));
      case 'ni': case 'nexti': return this.stopped(this.dbg.nexti());
      case 's': case 'step': return this.stopped(this.dbg.stepLine(false));
      case 'n': case 'next': return this.stopped(this.dbg.stepLine(true));
      case 'fin': case 'finish': return this.stopped(this.dbg.finish());
      case 'u': case 'until': case 'advance':
        if (!rest) return this.stopped(this.dbg.stepLine(true));
        return this.stopped(this.dbg.until(this.location(rest).address));
      case 'i': case 'info': return this.info(rest);
      case 'x': return this.examine(fmt ?? '', rest, false);
      case 'xp': return this.examine(fmt ?? '', rest, true);
      case 'p': case 'print': return this.print(fmt ?? '', rest);
      case 'set': return this.set(rest);
      case 'show': return this.show(rest);
      case 'disas': case 'disassemble': return this.disassemble(rest);
      case 'bt': case 'backtrace': case 'where': return this.backtrace();
      case 'vm': case 'thread': return this.selectVm(rest);
      case 'trace': return this.traceCmd(rest);
      case 'l': case 'list': return this.list(rest);
      case 'rsi': case 'reverse-stepi': return this.stopped(this.reverse().stepBack(rest ? this.num(rest) : 1));
      case 'rc': case 'reverse-continue': return this.stopped(this.reverse().continueBack());
      case 'h': case 'help': return { lines: HELP, json: HELP };
      case 'q': case 'quit': case 'kill': case 'k': return { lines: [], json: null, quit: true };
      default: throw new CommandError(`Undefined command: "${word}".  Try "help".`);
    }
  }

  /** The line is a `continue` (which a front end may run interruptibly with Debugger.contInterruptible). */
  isContinue(line: string): boolean {
    return /^\s*(c|cont|continue)(\s+\d+)?\s*$/i.test(line);
  }

  private reverse(): ReverseExecution {
    if (!this.dbg.reverse) throw new CommandError('Target does not support reverse execution (no time-travel engine attached).');
    return this.dbg.reverse;
  }

  private num(s: string): number {
    return this.dbg.evaluate(s);
  }

  // ------------------------------------------------------------------ locations

  /** `*EXPR` (an address), `FILE:LINE`, a symbol, or an expression. */
  location(spec: string): { address: number; description: string } {
    const s = spec.trim();
    if (s.startsWith('*')) return { address: this.num(s.slice(1)), description: s };
    const fl = /^(.+):(\d+)$/.exec(s);
    if (fl) {
      const a = this.dbg.symbols.addressOfLine(fl[1]!, Number(fl[2]));
      if (a === undefined) throw new CommandError(`No line ${fl[2]} in file "${fl[1]}".`);
      return { address: a, description: s };
    }
    const sym = this.dbg.symbols.lookup(s);
    if (sym !== undefined) return { address: sym, description: s };
    return { address: this.num(s), description: s };
  }

  private parseVmAndCondition(rest: string): { spec: string; vm: number | null; condition: string | null; physical: boolean } {
    let s = rest.trim(), condition: string | null = null, vm: number | null = null, physical = false;
    const ifAt = s.search(/\sif\s/);
    if (ifAt >= 0) { condition = s.slice(ifAt + 4).trim(); s = s.slice(0, ifAt).trim(); }
    const vmm = /\s(?:vm|thread)\s+(\d+)$/.exec(s);
    if (vmm) { vm = Number(vmm[1]); s = s.slice(0, vmm.index).trim(); }
    if (/^-phys(ical)?\s/.test(s)) { physical = true; s = s.replace(/^-phys(ical)?\s+/, ''); }
    return { spec: s, vm, condition, physical };
  }

  private breakCmd(rest: string, temporary: boolean): CommandResult {
    const { spec, vm, condition, physical } = this.parseVmAndCondition(rest);
    const loc = spec ? this.location(spec) : { address: this.dbg.pc(), description: `*${hex(this.dbg.pc())}` };
    // As GDB, a condition that does not parse (or names no symbol) refuses the breakpoint now;
    // one that fails when evaluated stops there with its error (Debugger.stopsAt).
    if (condition !== null) checkExpression(condition, this.dbg.context(this.dbg.targets.find((t) => t.id === vm) ?? this.dbg.current));
    const bp = this.dbg.addBreakpoint({ space: physical ? 'physical' : 'virtual', address: loc.address >>> 0, vm, temporary, condition, spec: loc.description });
    const where = this.whereText(loc.address);
    return {
      lines: [`${temporary ? 'Temporary breakpoint' : 'Breakpoint'} ${bp.id} at ${physical ? 'physical ' : ''}${hex(bp.address)}${where}${condition ? ` if ${condition}` : ''}`],
      json: { breakpoint: bp },
    };
  }

  private watchCmd(access: WatchAccess, rest: string): CommandResult {
    const { spec, vm, physical } = this.parseVmAndCondition(rest);
    let s = spec, length = 4;
    const lm = /\s-l(?:ength)?\s+(\S+)$/.exec(s);
    if (lm) { length = this.num(lm[1]!); s = s.slice(0, lm.index).trim(); }
    let address: number;
    const lv = memoryLvalue(s, this.dbg.context());
    if (lv) { address = lv.address; if (!lm) length = lv.size; } else address = this.location(s).address;
    if (length < 1 || length > 0x100000) throw new CommandError('watchpoint length must be 1..1 MiB');
    const wp = this.dbg.addWatchpoint({ access, space: physical ? 'physical' : 'virtual', address: address >>> 0, length, vm, spec: s });
    const kind = access === 'write' ? 'Hardware watchpoint' : access === 'read' ? 'Hardware read watchpoint' : 'Hardware access (read/write) watchpoint';
    return { lines: [`${kind} ${wp.id}: ${s}`], json: { watchpoint: wp } };
  }

  private catchCmd(rest: string): CommandResult {
    const { spec, vm } = this.parseVmAndCondition(rest);
    const [what, arg] = spec.split(/\s+/) as [string, string | undefined];
    let cp;
    switch (what) {
      case 'exit': case 'vmexit': {
        let reason: number | null = null;
        if (arg) {
          const r = REASONS[arg.toLowerCase()] ?? (/^\d+$/.test(arg) ? Number(arg) : undefined);
          if (r === undefined) throw new CommandError(`unknown exit reason '${arg}' (a number, or a name like io, cpuid, hlt, vmcall, ept_violation)`);
          reason = r;
        }
        if (!this.dbg.hv) throw new CommandError('catch exit: the bare machine has no VM exits (debug under the hypervisor)');
        cp = this.dbg.addCatchpoint({ kind: 'exit', reason, vm });
        break;
      }
      case 'exception': case 'signal': cp = this.dbg.addCatchpoint({ kind: 'exception', vector: arg ? this.num(arg) : null, vm }); break;
      case 'interrupt': case 'irq': cp = this.dbg.addCatchpoint({ kind: 'interrupt', vector: arg ? this.num(arg) : null, vm }); break;
      case 'cr3': cp = this.dbg.addCatchpoint({ kind: 'cr3', vm }); break;
      case 'hypercall': case 'vmcall':
        if (!this.dbg.hv) throw new CommandError('catch hypercall: needs the hypervisor');
        cp = this.dbg.addCatchpoint({ kind: 'hypercall', number: arg ? this.num(arg) : null, vm }); break;
      default: throw new CommandError(`catch: expected exit [REASON], exception [VECTOR], interrupt [VECTOR], cr3 or hypercall [N]`);
    }
    return { lines: [`Catchpoint ${cp.id} (${spec})`], json: { catchpoint: cp } };
  }

  // ------------------------------------------------------------------ stops

  private whereText(address: number): string {
    const sym = this.dbg.symbols.describe(address);
    const line = this.dbg.symbols.lineAt(address);
    return `${sym ? ` <${sym}>` : ''}${line ? `: file ${line.file}, line ${line.line}.` : ''}`;
  }

  private sourceLine(file: string, line: number): string | null {
    let lines = this.sources.get(file);
    if (lines === undefined) {
      try { lines = readFileSync(file, 'utf8').split('\n'); } catch { lines = null; }
      this.sources.set(file, lines);
    }
    return lines?.[line - 1] ?? null;
  }

  /** The stop report: why, then the source line and the current instruction. */
  describeStop(ev: StopEvent): CommandResult {
    const r = ev.reason, t = ev.target;
    const lines: string[] = [];
    const json: Record<string, unknown> = { stop: r.kind, vm: t.id };
    switch (r.kind) {
      case 'breakpoint':
        // GDB 14's words (GDB 13 says "Error in testing breakpoint condition:", without the number).
        if (r.conditionError !== undefined) { lines.push(`Error in testing condition for breakpoint ${r.breakpoint.id}:`, r.conditionError); json.conditionError = r.conditionError; }
        lines.push(`${r.breakpoint.temporary ? 'Temporary breakpoint' : 'Breakpoint'} ${r.breakpoint.id}, ${this.dbg.symbols.describe(this.dbg.pc(t)) ?? hex(this.dbg.pc(t))}`);
        json.breakpoint = r.breakpoint.id;
        break;
      case 'watchpoint': {
        const w = r.watchpoint, now = this.dbg.watchValue(t, w);
        lines.push(`${w.access === 'write' ? 'Hardware watchpoint' : w.access === 'read' ? 'Hardware read watchpoint' : 'Hardware access (read/write) watchpoint'} ${w.id}: ${w.spec}`);
        lines.push(`${r.write ? 'write' : 'read'} of ${counted(r.size, 'byte')} at ${hex(r.address)} by the instruction at ${hex(r.pc)}${this.whereText(r.pc)}`);
        if (r.write) lines.push(`Old value = ${r.old === null ? '??' : hex(r.old, 1)}`, `New value = ${now === null ? '??' : hex(now, 1)}`);
        else lines.push(`Value = ${now === null ? '??' : hex(now, 1)}`);
        Object.assign(json, { watchpoint: w.id, pc: r.pc, address: r.address, size: r.size, write: r.write, old: r.old, value: now });
        break;
      }
      case 'catch-exit': case 'catch-hypercall': {
        const e = r.exit;
        lines.push(`Catchpoint ${r.catchpoint.id} (exit ${e.name}), reason ${e.reason}: ${describeExit(e)}`);
        lines.push(`exited at ${hex(e.guestRip)}${this.whereText(e.guestRip)} (instruction length ${e.instructionLength}, qualification ${hex(e.qualification)}); the hypervisor ${e.action === 'resume' ? 'completed it' : `answered ${e.action}`}`);
        Object.assign(json, { catchpoint: r.catchpoint.id, exit: { reason: e.reason, name: e.name, qualification: e.qualification, guestRip: e.guestRip, length: e.instructionLength, decoded: e.decoded, action: e.action, eax: e.eax } });
        break;
      }
      case 'catch-interrupt': lines.push(`Catchpoint ${r.catchpoint.id} (interrupt ${hex(r.vector, 2)}) delivered at ${hex(r.pc)}${this.whereText(r.pc)}`); Object.assign(json, { vector: r.vector, pc: r.pc }); break;
      case 'catch-exception': lines.push(`Catchpoint ${r.catchpoint.id} (exception ${r.vector}) raised by the instruction at ${hex(r.pc)}${this.whereText(r.pc)}`); Object.assign(json, { vector: r.vector, pc: r.pc }); break;
      case 'catch-cr3': lines.push(`Catchpoint ${r.catchpoint.id} (CR3 changed from ${hex(r.old)} to ${hex(r.value)})`); Object.assign(json, { old: r.old, cr3: r.value }); break;
      case 'exited': lines.push(`[${t.name}] ${r.why}`); json.why = r.why; break;
      case 'halted': lines.push(`[${t.name}] ${r.why}`); json.why = r.why; break;
      case 'budget': lines.push('stopped: instruction budget spent'); break;
      case 'history-start': lines.push('No more reverse-execution history.'); break;
      case 'interrupted': lines.push('Program received signal SIGINT, Interrupt.'); break;
      case 'step': break;
    }
    if (r.kind !== 'exited') {
      const pc = this.dbg.pc(t);
      const line = this.dbg.symbols.lineAt(pc);
      if (line) {
        const src = this.sourceLine(line.file, line.line);
        lines.push(`${line.file}:${line.line}${src !== null ? `\t${src.trim()}` : ''}`);
        json.file = line.file; json.line = line.line;
      }
      const d = this.disasmOne(t, pc);
      lines.push(`=> ${hex(pc)}${this.symText(pc)}:\t${d.text}`);
      Object.assign(json, { pc, instruction: d.text });
    }
    return { lines, json };
  }

  private stopped(ev: StopEvent): CommandResult {
    return this.describeStop(ev);
  }

  private symText(a: number): string {
    const s = this.dbg.symbols.describe(a);
    return s ? ` <${s}>` : '';
  }

  // ------------------------------------------------------------------ inspection

  disasmOne(t: DebugTarget, linear: number): { text: string; length: number } {
    const bytes = readLinear(t, linear, 15) ?? readLinear(t, linear, 0x1000 - (linear & 0xfff));
    if (bytes === null) return { text: '(cannot access memory)', length: 1 };
    const bits = t.segment(1).attr & 0x4000 ? 32 : 16;
    try {
      const d = decode((i) => { if (i >= bytes.length) throw new RangeError('end'); return bytes[i]!; }, bits);
      if (isDecodeFailure(d)) return { text: `(bad: #${d.fault})`, length: 1 };
      const eip = (linear - t.segment(1).base) >>> 0;
      return { text: formatInsn(d, { address: eip, bits, symbols: (a) => this.dbg.symbols.exact(a) }), length: d.length };
    } catch {
      return { text: '(cannot access memory)', length: 1 };
    }
  }

  private info(rest: string): CommandResult {
    const [what = '', ...args] = rest.trim().split(/\s+/);
    const arg = args.join(' ');
    const t = this.dbg.current;
    switch (what) {
      case 'r': case 'reg': case 'registers': case 'all-registers': {
        const names = arg ? arg.split(/\s+/).map((n) => n.replace(/^\$/, '')) : [...GPR_NAMES, 'eip', 'eflags', 'cs', 'ss', 'ds', 'es', 'fs', 'gs'];
        const lines: string[] = [], json: Record<string, number> = {};
        for (const n of names) {
          const v = registerValue(t, n);
          if (v === undefined) throw new CommandError(`Invalid register \`${n}'`);
          json[n] = v;
          const extra = n === 'eflags' ? `[ ${decodeEflags(v)} ]` : n === 'eip' ? this.symText(this.dbg.pc(t)).trim() : String(v | 0);
          lines.push(`${n.padEnd(15)}${hex(v, 1).padEnd(19)}${extra}`);
        }
        return { lines, json };
      }
      case 'seg': case 'segments': {
        const lines: string[] = [], json: unknown[] = [];
        for (let s = 0; s < 8; s++) {
          const g = t.segment(s);
          json.push({ name: SEGMENT_NAMES[s], ...g });
          lines.push(`${SEGMENT_NAMES[s]!.padEnd(5)}${hex(g.selector, 4)} base=${hex(g.base)} limit=${hex(g.limit)} attr=${hex(g.attr, 4)} ${describeAttr(g.attr, s)}`);
        }
        const gdt = t.gdt(), idt = t.idt();
        lines.push(`gdtr base=${hex(gdt.base)} limit=${hex(gdt.limit, 4)}  idtr base=${hex(idt.base)} limit=${hex(idt.limit, 4)}`);
        lines.push(`cr0=${hex(t.cr(0))} cr2=${hex(t.cr(2))} cr3=${hex(t.cr(3))} cr4=${hex(t.cr(4))}`);
        return { lines, json };
      }
      case 'gdt': case 'idt': return this.descriptorTable(what, arg);
      case 'tss': return this.tss();
      case 'tlb': case 'translate': case 'walk': return this.translate(arg);
      case 'ept': return this.ept(arg);
      case 'vmcs': return this.vmcs(args);
      case 'exits': return this.exitsCmd(arg ? this.num(arg) : 10);
      case 'exit-counts': case 'exitstats': case 'kvm-stat': return this.exitCounts();
      case 'vms': case 'threads': return this.vms();
      case 'record': return this.record();
      case 'b': case 'break': case 'breakpoints': case 'watchpoints': return this.listPoints();
      case 'line': {
        const a = arg ? this.location(arg).address : this.dbg.pc(t);
        const l = this.dbg.symbols.lineAt(a);
        return { lines: [l ? `Line ${l.line} of "${l.file}" starts at address ${hex(l.address)}${this.symText(l.address)}.` : `No line number information available for address ${hex(a)}`], json: l ?? null };
      }
      case 'symbol': {
        const a = this.num(arg);
        const s = this.dbg.symbols.describe(a);
        return { lines: [s ? `${s} in section .text` : `No symbol matches ${arg}.`], json: s ?? null };
      }
      default: throw new CommandError(`Undefined info command: "${what}".`);
    }
  }

  private descriptorTable(which: 'gdt' | 'idt', arg: string): CommandResult {
    const t = this.dbg.current, tab = which === 'gdt' ? t.gdt() : t.idt();
    const count = Math.min(arg ? this.num(arg) : 256, Math.floor((tab.limit + 1) / 8));
    const lines: string[] = [], json: unknown[] = [];
    for (let i = 0; i < count; i++) {
      const b = readLinear(t, tab.base + i * 8, 8);
      if (b === null) { lines.push(`${i}: (cannot access memory)`); break; }
      const lo = u32(b, 0), hi = u32(b, 4);
      if (lo === 0 && hi === 0) continue;
      const type = (hi >>> 8) & 0x1f, dpl = (hi >>> 13) & 3, present = (hi >>> 15) & 1;
      if (which === 'idt' || (type & 0x10) === 0 && [4, 5, 6, 7, 0xc, 0xe, 0xf].includes(type & 0xf)) {
        const sel = lo >>> 16, off = ((hi & 0xffff0000) | (lo & 0xffff)) >>> 0;
        const kind = { 5: 'task gate', 6: 'interrupt gate 16', 7: 'trap gate 16', 0xc: 'call gate', 0xe: 'interrupt gate', 0xf: 'trap gate', 4: 'call gate 16' }[type & 0xf] ?? `type ${type}`;
        const desc = which === 'idt' || kind.includes('gate') ? `${kind} ${hex(sel, 4)}:${hex(off)}${this.symText(off)} dpl=${dpl}${present ? '' : ' not present'}` : '';
        if (desc) { lines.push(`${which === 'idt' ? `vector ${i}`.padEnd(11) : hex(i * 8, 4)} ${desc}`); json.push({ index: i, kind, selector: sel, offset: off, dpl, present: !!present }); continue; }
      }
      const base = ((hi & 0xff000000) | ((hi & 0xff) << 16) | (lo >>> 16)) >>> 0;
      let limit = (hi & 0xf0000) | (lo & 0xffff);
      if (hi & 0x800000) limit = ((limit << 12) | 0xfff) >>> 0;
      const kind = type & 0x10 ? (type & 8 ? `code${type & 2 ? ' readable' : ''}${type & 4 ? ' conforming' : ''}` : `data${type & 2 ? ' writable' : ''}${type & 4 ? ' expand-down' : ''}`)
        : ({ 1: 'TSS16 available', 2: 'LDT', 3: 'TSS16 busy', 9: 'TSS available', 0xb: 'TSS busy' } as Record<number, string>)[type & 0xf] ?? `system type ${type & 0xf}`;
      lines.push(`${hex(i * 8, 4)} base=${hex(base)} limit=${hex(limit)} ${kind} dpl=${dpl}${hi & 0x400000 ? ' 32-bit' : ' 16-bit'}${present ? '' : ' not present'}`);
      json.push({ selector: i * 8, base, limit, kind, dpl, present: !!present });
    }
    return { lines, json };
  }

  /** The current 32-bit TSS (TR's base): stack pointers per ring, CR3, saved registers, I/O map base. */
  private tss(): CommandResult {
    const t = this.dbg.current, tr = t.segment(7);
    if (tr.selector === 0 || tr.attr & 0x10000) throw new CommandError('no task register loaded (TR is null)');
    const b = readLinear(t, tr.base, 104);
    if (b === null) throw new CommandError(`Cannot access memory at address ${hex(tr.base, 1)}`);
    const d = (o: number): number => u32(b, o), w = (o: number): number => u16(b, o);
    const json = {
      selector: tr.selector, base: tr.base, limit: tr.limit, link: w(0), esp0: d(4), ss0: w(8), esp1: d(12), ss1: w(16), esp2: d(20), ss2: w(24),
      cr3: d(28), eip: d(32), eflags: d(36), ...Object.fromEntries(GPR_NAMES.map((n, i) => [n, d(40 + i * 4)])),
      es: w(72), cs: w(76), ss: w(80), ds: w(84), fs: w(88), gs: w(92), ldt: w(96), iomapBase: w(102),
    };
    return {
      lines: [
        `tr ${hex(tr.selector, 4)} base=${hex(tr.base)} limit=${hex(tr.limit)} link=${hex(json.link, 4)}`,
        `ss0:esp0 ${hex(json.ss0, 4)}:${hex(json.esp0)}  ss1:esp1 ${hex(json.ss1, 4)}:${hex(json.esp1)}  ss2:esp2 ${hex(json.ss2, 4)}:${hex(json.esp2)}`,
        `cr3=${hex(json.cr3)} eip=${hex(json.eip)} eflags=${hex(json.eflags)} ldt=${hex(json.ldt, 4)} iomap base=${hex(json.iomapBase, 4)}`,
      ],
      json,
    };
  }

  /** `info translate LINEAR`: the guest's paging walk, then (under the hypervisor) the EPT walk of its result. */
  private translate(arg: string): CommandResult {
    const t = this.dbg.current;
    if (!arg) throw new CommandError('info translate ADDR');
    const linear = this.num(arg) >>> 0;
    const walk = walkGuest(t, linear);
    const lines = [`linear ${hex(linear)}: guest paging ${walk.steps.length === 0 && walk.address !== null ? 'off (identity)' : `CR3=${hex(t.cr(3))}`}`];
    for (const s of walk.steps) lines.push(`  ${s.level.padEnd(6)} at guest-physical ${hex(s.entryAddress)} = ${hex(s.entry)} [${s.flags}]`);
    const json: Record<string, unknown> = { linear, guest: walk };
    if (walk.address === null) { lines.push(`  -> ${walk.fault}`); return { lines, json }; }
    lines.push(`  -> guest-physical ${hex(walk.address)}`);
    if (t instanceof VmTarget) {
      const ept = this.eptWalk(t, walk.address);
      lines.push(...ept.lines);
      json.ept = ept.json;
    }
    return { lines, json };
  }

  /** `info ept GPA`: the VM's EPT walk of a guest-physical address to host-physical. */
  private ept(arg: string): CommandResult {
    const t = this.dbg.current;
    if (!(t instanceof VmTarget)) throw new CommandError('info ept: the bare machine has no EPT (debug under the hypervisor)');
    if (!arg) throw new CommandError('info ept GUEST-PHYSICAL-ADDRESS');
    return this.eptWalk(t, this.num(arg) >>> 0);
  }

  private eptWalk(t: VmTarget, gpa: number): CommandResult {
    const ept = walkTargetEpt(t, gpa);
    const lines = [`guest-physical ${hex(gpa)}: EPT (EPTP=${hex(Number(t.vcpu.vmcs.read64(VmcsField.EPT_POINTER) & 0xffffffffn))})`];
    for (const s of ept.steps) lines.push(`  ${s.level.padEnd(6)} at host-physical ${hex(s.entryAddress)} = ${hex(s.entry)} [${s.flags}]`);
    lines.push(ept.address === null ? `  -> ${ept.fault}` : `  -> host-physical ${hex(ept.address)}`);
    return { lines, json: ept };
  }

  private vmcs(names: string[]): CommandResult {
    const t = this.dbg.current;
    if (!(t instanceof VmTarget)) throw new CommandError('info vmcs: the bare machine has no VMCS (debug under the hypervisor)');
    const wanted = names.filter(Boolean).map((n) => n.toUpperCase());
    const fields = FIELDS.filter((f) => wanted.length === 0 || wanted.some((w) => f.name === w || (w.endsWith('*') && f.name.startsWith(w.slice(0, -1)))));
    if (fields.length === 0) throw new CommandError(`no VMCS field ${wanted.join(', ')}`);
    const lines: string[] = [], json: Record<string, string | number> = {};
    for (const f of fields) {
      const v = f.width === 64 ? t.vcpu.vmcs.read64(f.encoding) : BigInt(t.vcpu.vmcs.read(f.encoding) >>> 0);
      json[f.name] = v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : `0x${v.toString(16)}`;
      lines.push(`${f.name.padEnd(36)} 0x${v.toString(16)}`);
    }
    return { lines, json };
  }

  /** The current VM's last `n` exits, oldest first, each with the guest instruction count at it; the debugger's own stops are left out. */
  private exitsCmd(n: number): CommandResult {
    const recent = this.dbg.exits.filter((e) => e.vm === this.dbg.current.id && !e.debugger).slice(-n);
    const lines = recent.map((e) => `#${String(e.retired).padStart(10)} ${e.name.padEnd(18)} at ${hex(e.guestRip)}${this.symText(e.guestRip)} ${describeExit(e)}`);
    return { lines, json: recent.map((e) => ({ ...e, description: describeExit(e) })) };
  }

  private exitCounts(): CommandResult {
    const t = this.dbg.current;
    if (!t.vm) throw new CommandError('info exit-counts: the bare machine has no VM exits');
    const counts = [...this.dbg.exitCounts(t.vm)].sort((a, b) => b[1] - a[1]);
    const total = counts.reduce((s, [, n]) => s + n, 0);
    const lines = counts.map(([r, n]) => `${(Object.entries(ExitReason).find(([, v]) => v === r)?.[0] ?? String(r)).padEnd(20)} ${String(n).padStart(8)}`);
    lines.push(`${'total'.padEnd(20)} ${String(total).padStart(8)}`);
    return { lines, json: Object.fromEntries(counts.map(([r, n]) => [Object.entries(ExitReason).find(([, v]) => v === r)?.[0] ?? String(r), n])) };
  }

  /** `info record`: what reverse execution holds. */
  private record(): CommandResult {
    const r = this.dbg.reverse;
    if (!(r instanceof TimeTravelReverse)) return { lines: ['No recording is active (reverse execution needs one VM under the hypervisor; see --no-record).'], json: { active: false } };
    const tt = r.timeTravel;
    const json = {
      active: true, position: tt.position, earliest: tt.earliest, interval: tt.interval, checkpoints: tt.checkpointPositions.length,
      checkpointBytes: tt.checkpointBytes, inputs: tt.inputs.length, replays: tt.replays, replayedInstructions: tt.replayedInstructions,
    };
    return {
      lines: [
        `Recording: checkpoints every ${tt.interval} instructions, ${json.checkpoints} held (${(json.checkpointBytes / 1024).toFixed(0)} KiB of guest pages, unchanged pages shared).`,
        `Reverse execution can go back from instruction ${tt.position} to ${tt.earliest}.`,
        `Replays so far: ${tt.replays}, re-executing ${tt.replayedInstructions} instructions; console inputs recorded: ${tt.inputs.length}.`,
      ],
      json,
    };
  }

  /** Every VM as the scheduler sees it: state, where it is, its instructions and share of them, exits, weight and virtual runtime. */
  private vms(): CommandResult {
    const lines: string[] = [], json: unknown[] = [];
    const total = this.dbg.targets.reduce((n, t) => n + t.retired(), 0);
    const hv = this.dbg.hv;
    for (const t of this.dbg.targets) {
      const state = t.stopped() ?? (t.vcpu?.halted ? 'halted (blocked)' : 'runnable');
      const pc = this.dbg.pc(t);
      const exits = t.vm ? [...this.dbg.exitCounts(t.vm).values()].reduce((a, b) => a + b, 0) : 0; // the guest's, not the debugger's stops
      const retired = t.retired(), share = total === 0 ? 0 : (100 * retired) / total;
      const vruntime = hv && t.vcpu ? Math.round(hv.scheduler.virtualRuntime(t.vcpu)) : null;
      const entry = { id: t.id, name: t.name, state, pc, retired, share, exits, weight: t.vm?.weight ?? 1, vruntime, current: t === this.dbg.current };
      json.push(entry);
      lines.push(`${t === this.dbg.current ? '*' : ' '} ${t.id} ${t.name.padEnd(12)} ${state.padEnd(18)} pc=${hex(pc)}${this.symText(pc)} instructions=${retired} (${share.toFixed(1)}%) exits=${exits} weight=${entry.weight}${vruntime !== null ? ` vruntime=${vruntime}` : ''}`);
    }
    return { lines, json };
  }

  private selectVm(arg: string): CommandResult {
    if (!arg) return this.vms();
    const t = this.dbg.targets.find((x) => x.id === Number(arg) || x.name === arg);
    if (!t) throw new CommandError(`no VM ${arg} (see info vms)`);
    this.dbg.current = t;
    return { lines: [`[Switching to VM ${t.id} (${t.name})]`], json: { vm: t.id } };
  }

  /**
   * GDB's table: Num, Type, Disp, Enb, Address, What, each column followed by one space; Type as
   * wide as its longest entry and at least 14 (so "read watchpoint" still has its separator).
   */
  private listPoints(): CommandResult {
    type Row = [num: string, type: string, disp: string, enb: string, address: string, what: string];
    const rows: Row[] = [];
    const enb = (enabled: boolean) => (enabled ? 'y' : 'n');
    for (const b of this.dbg.breakpoints) {
      rows.push([String(b.id), b.space === 'physical' ? 'pbreakpoint' : 'breakpoint', b.temporary ? 'del' : 'keep', enb(b.enabled), hex(b.address),
        `${b.spec}${b.vm !== null ? ` vm ${b.vm}` : ''}${b.condition ? ` if ${b.condition}` : ''}${b.hits ? ` (hit ${counted(b.hits, 'time')})` : ''}`]);
    }
    for (const w of this.dbg.watchpoints) {
      rows.push([String(w.id), w.access === 'write' ? 'hw watchpoint' : w.access === 'read' ? 'read watchpoint' : 'acc watchpoint', 'keep', enb(w.enabled), hex(w.address),
        `${w.spec} (${counted(w.length, 'byte')}${w.space === 'physical' ? ', physical' : ''})`]);
    }
    for (const c of this.dbg.catchpoints) {
      rows.push([String(c.id), 'catchpoint', 'keep', enb(c.enabled), '',
        `${c.kind}${'reason' in c && c.reason !== null ? ` ${c.reason}` : ''}${'vector' in c && c.vector !== null ? ` ${c.vector}` : ''}${'number' in c && c.number !== null ? ` ${c.number}` : ''}`]);
    }
    const typeWidth = Math.max(14, ...rows.map((r) => r[1].length));
    const line = ([num, type, disp, e, address, what]: Row) => `${num.padEnd(7)} ${type.padEnd(typeWidth)} ${disp.padEnd(4)} ${e.padEnd(3)} ${address.padEnd(10)} ${what}`;
    return {
      lines: [line(['Num', 'Type', 'Disp', 'Enb', 'Address', 'What']), ...rows.map(line)],
      json: { breakpoints: this.dbg.breakpoints, watchpoints: this.dbg.watchpoints, catchpoints: this.dbg.catchpoints },
    };
  }

  /**
   * `x/NFU ADDR` (`xp` for guest-physical). As GDB's x it sets `$_` to the address of the last
   * unit shown and `$__` to that unit's contents, read as GDB's intN_t of the unit's size (so
   * sign-extended; of a giant only the low 32 bits, as every value here), void after `x/s` and
   * `x/i`. `disassemble` comes here too and, as GDB's, sets neither (`convenience` false).
   */
  private examine(fmt: string, arg: string, physical: boolean, convenience = true): CommandResult {
    const f = /^\/?(\d*)([xduotacsi]?)([bhwg]?)$/.exec(fmt);
    if (!f) throw new CommandError(`Invalid format ${fmt}`);
    const count = f[1] ? Number(f[1]) : 1;
    const letter = f[2] || this.lastX?.format || 'x';
    const unit = ({ b: 1, h: 2, w: 4, g: 8 } as Record<string, number>)[f[3] || 'w']!;
    const address = arg ? this.num(arg) : this.lastX ? this.lastX.address : this.dbg.pc();
    if (count > 65536) throw new CommandError('count too large');
    const t = this.dbg.current;
    const read = (a: number, n: number): Uint8Array | null => physical ? t.readPhys(a, n) : readLinear(t, a, n);
    const lines: string[] = [], values: (number | string)[] = [];
    const examined = (last: number, contents: Value): void => {
      if (convenience && count > 0) { this.dbg.convenience.set('_', last >>> 0); this.dbg.convenience.set('__', contents); }
    };
    if (letter === 'i') {
      let a = address, last = address;
      for (let i = 0; i < count; i++) {
        const d = this.disasmOne(t, a);
        lines.push(`${a === this.dbg.pc() ? '=> ' : '   '}${hex(a)}${this.symText(a)}:\t${d.text}`);
        values.push(d.text);
        last = a;
        a = (a + d.length) >>> 0;
      }
      this.lastX = { address: a, format: 'i', physical };
      examined(last, VOID);
      return { lines, json: { address, instructions: values } };
    }
    if (letter === 's') {
      let a = address, last = address;
      for (let i = 0; i < count; i++) {
        let s = '', k = 0;
        for (; k < 4096; k++) { const b = read(a + k, 1); if (b === null || b[0] === 0) break; s += String.fromCharCode(b[0]!); }
        lines.push(`${hex(a)}:\t${JSON.stringify(s)}`);
        values.push(s);
        last = a;
        a = (a + k + 1) >>> 0;
      }
      examined(last, VOID);
      return { lines, json: { address, strings: values } };
    }
    const size = letter === 'c' ? 1 : unit;
    const bytes = read(address, count * size);
    if (bytes === null) throw new CommandError(`Cannot access memory at address ${hex(address, 1)}`);
    const perLine = size === 1 ? 8 : size === 2 ? 8 : size === 4 ? 4 : 2;
    for (let i = 0; i < count; i++) {
      let v = 0n;
      for (let k = size - 1; k >= 0; k--) v = (v << 8n) | BigInt(bytes[i * size + k]!);
      values.push(Number(v) <= Number.MAX_SAFE_INTEGER ? Number(v) : v.toString());
      const text = letter === 'x' ? '0x' + v.toString(16).padStart(size * 2, '0') : letter === 'd' ? String(BigInt.asIntN(size * 8, v)) : letter === 'o' ? '0' + v.toString(8)
        : letter === 't' ? v.toString(2).padStart(size * 8, '0') : letter === 'c' ? `${Number(v)} '${String.fromCharCode(Number(v))}'` : v.toString();
      if (i % perLine === 0) lines.push(`${hex(address + i * size)}${physical ? '' : this.symText(address + i * size)}:`);
      lines[lines.length - 1] += `\t${text}`;
    }
    this.lastX = { address: address + count * size, format: letter, physical };
    if (count > 0) {
      let v = 0n;
      for (let k = size - 1; k >= 0; k--) v = (v << 8n) | BigInt(bytes[(count - 1) * size + k]!);
      examined(address + (count - 1) * size, Number(BigInt.asUintN(32, BigInt.asIntN(size * 8, v))));
    }
    return { lines, json: { address, unit: size, values } };
  }

  /** `print EXPR`: shows the value as `$N = ...` and appends it to the value history; `print` alone shows the last value again (as `print $`). */
  private print(fmt: string, arg: string): CommandResult {
    const v = this.dbg.evaluateValue(arg.trim() || '$');
    // Void (`$nosuch`) prints as GDB prints it, in any format, and is recorded like any value.
    const text = v === VOID ? 'void' : fmt.includes('x') ? hex(v, 1) : fmt.includes('d') ? String(v | 0) : String(v);
    const history = this.dbg.recordValue(v);
    return { lines: [`$${history} = ${text}`], json: { history, value: v === VOID ? null : v } };
  }

  /**
   * `set [var[iable]] EXPR`: as GDB's set, evaluates an expression for its assignments (`$eax = 1`
   * sets the register, `$foo = 5` a convenience variable, `*(char*)ADDR = 0x41` memory, `$n += 1`),
   * warning in GDB's words first when the outermost operator is not one. The result names what was
   * assigned and the value it holds now.
   */
  private set(rest: string): CommandResult {
    const setting = /^(pagination|confirm|height|width)(?:\s+(.*))?$/.exec(rest.trim());
    if (setting) return this.setSetting(setting[1] as GdbSetting, (setting[2] ?? '').trim());
    const text = rest.trim().replace(/^var(?:iable)?(?![\w-])\s*/, '');
    if (!text) throw new CommandError('Argument required (expression to compute).');
    const ctx = this.dbg.context();
    const warning = checkExpression(text, ctx) ? null : 'warning: Expression is not an assignment (and might have no effect)';
    let r;
    try {
      r = evaluateStatement(text, ctx);
    } catch (e) {
      // GDB warns before evaluating, so its error comes after the warning.
      if (warning !== null && e instanceof ExpressionError) throw new ExpressionError(`${warning}\n${e.message}`);
      throw e;
    }
    const value = r.value === VOID ? null : r.value, a = r.assigned;
    const json = a === null ? { value } : a.kind === 'register' ? { register: a.name, value }
      : a.kind === 'convenience' ? { convenience: a.name, value } : { address: a.address, size: a.size, value };
    return { lines: warning === null ? [] : [warning], json };
  }

  /**
   * `set pagination|confirm on|off`, `set height|width N|unlimited`: GDB's interface settings, which
   * gdb users put in their scripts out of habit. They are kept for `show` in GDB's words and
   * otherwise change nothing: this debugger never pages its output and never asks.
   */
  private setSetting(name: GdbSetting, value: string): CommandResult {
    let v: string;
    if (GDB_SETTINGS[name].kind === 'bool') {
      if (value === '' || /^(on|1|yes|enable)$/.test(value)) v = 'on';
      else if (/^(off|0|no|disable)$/.test(value)) v = 'off';
      else throw new CommandError('"on" or "off" expected.');
    } else {
      if (value === '') throw new CommandError('Argument required (integer to set it to, or "unlimited").');
      if (value === 'unlimited' || value === '0') v = 'unlimited';
      else if (/^-?\d+$/.test(value)) {
        if (Number(value) < 0) throw new CommandError(`integer ${value} out of range`);
        v = String(Number(value));
      } else throw new CommandError(`No symbol "${value}" in current context.`);
    }
    this.settings.set(name, v);
    return { lines: [], json: { setting: name, value: v } };
  }
  /** GDB's interface settings as last set (this debugger's own behaviour to begin with). */
  private readonly settings = new Map<GdbSetting, string>([['pagination', 'off'], ['confirm', 'off'], ['height', 'unlimited'], ['width', 'unlimited']]);

  /**
   * `show convenience` (`show conv`): the convenience variables as GDB lists them, the newest first,
   * `$foo = 5` (void ones too), and GDB's three lines when there are none.
   */
  private show(rest: string): CommandResult {
    const what = rest.trim().split(/\s+/)[0]!;
    if (what in GDB_SETTINGS) {
      const name = what as GdbSetting, value = this.settings.get(name)!;
      return { lines: [GDB_SETTINGS[name].shown(value)], json: { setting: name, value } };
    }
    if (what.length < 4 || !'convenience'.startsWith(what)) {
      throw new CommandError(what ? `Undefined show command: "${what}".  Try "help show".` : 'show convenience (show conv) | pagination | confirm | height | width');
    }
    const vars = [...this.dbg.convenience].reverse();
    if (vars.length === 0) return { lines: NO_CONVENIENCE, json: [] };
    return {
      lines: vars.map(([name, v]) => `$${name} = ${v === VOID ? 'void' : v}`),
      json: vars.map(([name, v]) => ({ name, value: v === VOID ? null : v })),
    };
  }

  private disassemble(arg: string): CommandResult {
    const start = arg ? this.location(arg).address : this.dbg.pc();
    return this.examine('/16i', String(start), false, false);
  }

  private backtrace(): CommandResult {
    const t = this.dbg.current;
    const frames: { pc: number; frame: number }[] = [{ pc: this.dbg.pc(t), frame: t.getGpr(5) }];
    let ebp = t.getGpr(5);
    for (let i = 0; i < 64 && ebp !== 0; i++) {
      const b = readLinear(t, ebp, 8);
      if (b === null) break;
      const next = u32(b, 0), ret = u32(b, 4);
      if (ret === 0) break;
      frames.push({ pc: ret, frame: next });
      if (next <= ebp) break;
      ebp = next;
    }
    const lines = frames.map((f, i) => {
      const l = this.dbg.symbols.lineAt(f.pc);
      return `#${i}  ${hex(f.pc)} in ${this.dbg.symbols.describe(f.pc) ?? '??'} ()${l ? ` at ${l.file}:${l.line}` : ''}`;
    });
    return { lines, json: frames };
  }

  /** `trace on FILE`: each instruction (VM, address, symbol, disassembly) as it executes, and each VM exit, in order. */
  private traceCmd(arg: string): CommandResult {
    const [onoff, file] = arg.trim().split(/\s+/);
    this.flushTrace();
    if (onoff === 'off') { this.dbg.trace = null; this.flushTrace = () => {}; return { lines: ['trace off'], json: null }; }
    if (onoff !== 'on' || !file) throw new CommandError('trace on FILE | trace off');
    try { writeFileSync(file, ''); } catch (e) { throw new CommandError(`${file}: ${(e as Error).message}`); }
    let pending: string[] = [];
    const flush = (): void => { if (pending.length) { appendFileSync(file, pending.join('\n') + '\n'); pending = []; } };
    this.dbg.trace = (e) => {
      const t = e.target, name = this.dbg.targets.length > 1 ? `[${t.name}] ` : '';
      if (e.kind === 'instruction') {
        const sym = this.dbg.symbolsOf(t).describe(e.linear);
        pending.push(`${name}${hex(e.linear)}${sym ? ` <${sym}>` : ''}:\t${this.disasmOne(t, e.linear).text}`);
      } else pending.push(`${name}-- exit ${e.exit.name} at ${hex(e.exit.guestRip)}: ${describeExit(e.exit)}`);
      if (pending.length >= 4096) flush();
    };
    this.flushTrace = flush;
    return { lines: [`tracing instructions and exits to ${file}`], json: { file } };
  }

  /** Writes buffered trace lines (called after every command). */
  flushTrace: () => void = () => {};

  private list(arg: string): CommandResult {
    const a = arg ? this.location(arg).address : this.dbg.pc();
    const l = this.dbg.symbols.lineAt(a);
    if (!l) throw new CommandError('No line number information available.');
    const out: string[] = [];
    for (let n = Math.max(1, l.line - 4); n <= l.line + 5; n++) {
      const s = this.sourceLine(l.file, n);
      if (s === null) break;
      out.push(`${String(n).padEnd(8)}${s}`);
    }
    return { lines: out, json: { file: l.file, line: l.line } };
  }
}

function describeAttr(attr: number, s: number): string {
  if (attr & 0x10000) return 'unusable';
  const type = attr & 0xf, dpl = (attr >>> 5) & 3;
  if (s >= 6) return `${s === 7 ? 'tss' : 'ldt'} type ${type} dpl=${dpl}`;
  const kind = attr & 0x10 ? (type & 8 ? 'code' : 'data') : 'system';
  return `${kind}${attr & 0x4000 ? ' 32-bit' : ' 16-bit'} dpl=${dpl}${attr & 0x80 ? '' : ' not present'}`;
}

/** GDB's interface settings this debugger keeps (`set pagination off`...), with `show`'s words. */
const GDB_SETTINGS = {
  pagination: { kind: 'bool', shown: (v: string) => `State of pagination is ${v}.` },
  confirm: { kind: 'bool', shown: (v: string) => `Whether to confirm potentially dangerous operations is ${v}.` },
  height: { kind: 'uint', shown: (v: string) => `Number of lines gdb thinks are in a page is ${v}.` },
  width: { kind: 'uint', shown: (v: string) => `Number of characters gdb thinks are in a line is ${v}.` },
} as const;
type GdbSetting = keyof typeof GDB_SETTINGS;

/** GDB's `show convenience` when there are none (value.c, show_convenience). */
const NO_CONVENIENCE = [
  'No debugger convenience variables now defined.',
  'Convenience variables have names starting with "$";',
  'use "set" as in "set $foo = 5" to define them.',
];

const HELP = [
  'running:     continue (c), stepi [N] (si), nexti (ni), step (s), next (n), finish, until LOC, advance LOC',
  'points:      break LOC [vm N] [if EXPR] (b), tbreak, break -phys ADDR, watch/rwatch/awatch [-phys] EXPR [-l LEN] [vm N],',
  '             catch exit [REASON] | exception [VECTOR] | interrupt [VECTOR] | cr3 | hypercall [N],',
  '             info breakpoints, delete [N...], disable N, enable N',
  '             LOC is *ADDR, SYMBOL or FILE:LINE',
  'inspection:  info registers [REG...], info segments, info gdt|idt|tss, x/NFU ADDR (F: x d u o t a c s i; U: b h w g),',
  '             xp/NFU GPA (guest-physical), print [EXPR], disassemble [LOC], list [LOC], bt, info line, info symbol',
  '             EXPR may use earlier values: $N (print\'s $N), $ (the last), $$ (the one before), $$N (N back)',
  '             and $_ / $__ (the last address x examined, its contents); any other $NAME is a convenience',
  '             variable (void until assigned), listed by show convenience (show conv)',
  'VMX:         info translate ADDR (guest paging, then EPT), info ept GPA, info vmcs [FIELD...], info exits [N], info exit-counts',
  'VMs:         info vms, vm N',
  'changing:    set $REG = EXPR, set $NAME = EXPR, set *(char|short|int*)ADDR = EXPR (also += -= ... in set,',
  '             print and conditions: print $n = 5, break LOC if ($n += 1) == 3)',
  'other:       trace on FILE | trace off, reverse-stepi (rsi) [N], reverse-continue (rc), info record, help, quit,',
  '             set/show pagination|confirm on|off, height|width N|unlimited (GDB\'s, kept for show: nothing pages or asks)',
];

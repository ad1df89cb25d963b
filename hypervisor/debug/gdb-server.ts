/**
 * A GDB remote serial protocol server over the debugger core, so a real `gdb` attaches with
 * `target remote :PORT` (GDB manual, appendix E "GDB Remote Serial Protocol").
 *
 * - The target description (`qXfer:features:read:target.xml`) is i386's core feature with its 32
 *   registers (GDB's register numbering; the x87 ones are reported unavailable: the CPU has no FPU)
 *   plus CR0, CR2, CR3 and CR4 in a feature of our own, so no `set architecture` is needed.
 * - The image's labels reach GDB as an ELF (elf-symbols.ts) it reads as the target's executable
 *   (qXfer:exec-file:read, then vFile open/pread/fstat/close), so `break start` needs no `file`.
 * - Memory is guest-linear (through the guest's paging, never touching a device); Z0/Z1 are the
 *   debugger's breakpoints (guest memory is never patched), Z2-Z4 its watchpoints.
 * - Each VM is a thread (id = its place in `info vms` + 1); `Hg` picks the one registers and
 *   memory are read from, and a stop reports the VM that stopped.
 * - `c` and `vCont;c` run the guest in slices with the event loop turning between them, so a
 *   Ctrl-C (0x03) from GDB, or the client going away, stops it (T02). Everything else answers at
 *   once; the guest stays stopped between commands.
 * - `qRcmd` (GDB's `monitor`) gives the VMX view: `monitor vmcs [FIELD...]`, `monitor exits [N]`,
 *   `monitor ept GPA`, `monitor translate ADDR`, and any `info` command.
 * - Malformed packets, bad checksums and huge lengths are answered with an error (or a NAK) or
 *   dropped; nothing a client sends can stop the server or run the guest except c, s and vCont.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { CommandInterpreter } from './commands.js';
import type { Debugger, StopEvent, WatchAccess } from './debugger.js';
import { symbolElf } from './elf-symbols.js';
import { readLinear, readLinearPrefix, writeLinear } from './page-walk.js';
import type { DebugTarget } from './target.js';

/** Largest packet we accept (and advertise): a whole 'X' write of MAX_MEMORY escaped bytes fits. */
const MAX_PACKET = 0x4000;
/** Largest memory read or write in one packet; a longer read returns this much (the protocol allows short reads). */
const MAX_MEMORY = 0x1000;

const X87_REGISTERS = ['st0', 'st1', 'st2', 'st3', 'st4', 'st5', 'st6', 'st7', 'fctrl', 'fstat', 'ftag', 'fiseg', 'fioff', 'foseg', 'fooff', 'fop'];
/** Register numbers in GDB's i386 order: 0-15 below, 16-31 x87, 32-35 the control registers. */
const CR_REGISTERS = [0, 2, 3, 4] as const;
const FIRST_CR = 32;

/** GDB's features/i386/32bit-core.xml, inline, and the control registers. */
export const TARGET_XML = `<?xml version="1.0"?>
<!DOCTYPE target SYSTEM "gdb-target.dtd">
<target version="1.0">
<architecture>i386</architecture>
<feature name="org.gnu.gdb.i386.core">
<flags id="i386_eflags" size="4">
${[['CF', 0], ['', 1], ['PF', 2], ['AF', 4], ['ZF', 6], ['SF', 7], ['TF', 8], ['IF', 9], ['DF', 10], ['OF', 11], ['NT', 14], ['RF', 16], ['VM', 17], ['AC', 18], ['VIF', 19], ['VIP', 20], ['ID', 21]]
    .map(([n, b]) => `<field name="${n}" start="${b}" end="${b}"/>`).join('\n')}
</flags>
${['eax', 'ecx', 'edx', 'ebx'].map((n) => `<reg name="${n}" bitsize="32" type="int32"/>`).join('\n')}
<reg name="esp" bitsize="32" type="data_ptr"/>
<reg name="ebp" bitsize="32" type="data_ptr"/>
<reg name="esi" bitsize="32" type="int32"/>
<reg name="edi" bitsize="32" type="int32"/>
<reg name="eip" bitsize="32" type="code_ptr"/>
<reg name="eflags" bitsize="32" type="i386_eflags"/>
${['cs', 'ss', 'ds', 'es', 'fs', 'gs'].map((n) => `<reg name="${n}" bitsize="32" type="int32"/>`).join('\n')}
${X87_REGISTERS.map((n, i) => i < 8 ? `<reg name="${n}" bitsize="80" type="i387_ext"/>` : `<reg name="${n}" bitsize="32" type="int" group="float"/>`).join('\n')}
</feature>
<feature name="org.trapvisor.i386.control">
${CR_REGISTERS.map((n, i) => `<reg name="cr${n}" bitsize="32" type="int32" regnum="${FIRST_CR + i}" group="system"/>`).join('\n')}
</feature>
</target>
`;

const hex8 = (v: number): string => (v & 0xff).toString(16).padStart(2, '0');
const le32 = (v: number): string => [0, 8, 16, 24].map((s) => hex8(v >>> s)).join('');
export const checksum = (s: string): string => hex8([...s].reduce((a, c) => a + c.charCodeAt(0), 0));

function parseLe32(h: string): number {
  let v = 0;
  for (let i = 3; i >= 0; i--) v = v * 256 + parseInt(h.slice(i * 2, i * 2 + 2), 16);
  return v >>> 0;
}

/** Segment register order in GDB's numbering (cs ss ds es fs gs) as SegReg indexes. */
const GDB_SEGMENTS = [1, 2, 3, 0, 4, 5];

function readReg(t: DebugTarget, i: number): number | null {
  if (i < 8) return t.getGpr(i);
  if (i === 8) return t.eip;
  if (i === 9) return t.eflags;
  if (i < 16) return t.segment(GDB_SEGMENTS[i - 10]!).selector;
  if (i >= FIRST_CR && i < FIRST_CR + CR_REGISTERS.length) return t.cr(CR_REGISTERS[i - FIRST_CR]!);
  return null;
}

/** Register size in bytes (for unavailable x87 registers), or 0 for no such register. */
function regSize(i: number): number {
  if (i < 16 || i >= FIRST_CR && i < FIRST_CR + CR_REGISTERS.length) return 4;
  if (i < 24) return 10;
  return i < 32 ? 4 : 0;
}

function writeReg(t: DebugTarget, i: number, v: number): boolean {
  if (i < 8) t.setGpr(i, v);
  else if (i === 8) t.eip = v;
  else if (i === 9) t.eflags = v;
  else return i < 16 && t.segment(GDB_SEGMENTS[i - 10]!).selector === (v & 0xffff); // a selector alone cannot be loaded: only "unchanged" is accepted
  return true;
}

/** The GDB escapes for binary data in a reply: '#', '$', '}' and '*' become '}' and the byte XOR 0x20. */
function escapeBinary(s: string): string {
  return s.replace(/[#$}*]/g, (c) => '}' + String.fromCharCode(c.charCodeAt(0) ^ 0x20));
}

function unescapeBinary(s: string): string {
  if (!s.includes('}')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) out += s[i] === '}' && i + 1 < s.length ? String.fromCharCode(s.charCodeAt(++i) ^ 0x20) : s[i];
  return out;
}

const MONITOR_HELP = [
  'monitor vmcs [FIELD...]    the current VM\'s VMCS (all fields, or these; GUEST_* works)',
  'monitor exits [N]          the last N VM exits with decoded qualifications',
  'monitor exit-counts        exits per reason',
  'monitor ept GPA            EPT walk of a guest-physical address to host-physical',
  'monitor translate ADDR     guest paging walk of a linear address, then its EPT walk',
  'monitor vms                every VM and its state',
  'monitor info ...           any trapvisor debugger info command (segments, gdt, idt, tss, ...)',
];

export interface GdbSessionEvents {
  /** The client detached (D): close the connection, keep the server. */
  detach?: () => void;
  /** The client killed the target (k, vKill): end the debugging session. */
  kill?: () => void;
  /** A bug surfaced while answering (logged; the client got E01). */
  error?: (e: unknown) => void;
}

/** One client's conversation. `receive` takes bytes as they arrive; `send` writes bytes back. */
export class GdbSession {
  private buffer = '';
  private noAck = false;
  /** A continue is in progress: packets wait, only Ctrl-C is looked at. */
  private running = false;
  private interruptRequested = false;
  private closed = false;
  private lastStop: string;
  /** Files GDB opened through vFile (only the symbol ELF exists), by descriptor. */
  private readonly files = new Map<number, Uint8Array>();
  private elf: { path: string; bytes: Uint8Array } | null | undefined;
  /** Points this client made (removed when it detaches or goes away). */
  private readonly mine = new Set<number>();
  private readonly hardware = new Set<number>();

  constructor(private readonly dbg: Debugger, private readonly cli: CommandInterpreter, private readonly send: (s: string) => void,
    private readonly events: GdbSessionEvents = {}) {
    this.lastStop = `T05thread:${this.tid(dbg.current)};`;
  }

  /** The guest is running (a continue is in progress). */
  get busy(): boolean { return this.running; }

  /** Bytes from the client. */
  receive(data: string): void {
    if (this.closed) return;
    if (this.running && data.includes('\x03')) { this.interruptRequested = true; data = data.replaceAll('\x03', ''); }
    this.buffer += data;
    if (this.buffer.length > 2 * MAX_PACKET) {
      // Far more than one packet waiting: keep only a packet that may still be arriving.
      const last = this.buffer.lastIndexOf('$');
      this.buffer = last >= this.buffer.length - MAX_PACKET ? this.buffer.slice(last) : '';
    }
    this.pump();
  }

  /** The client went away: a running guest stops where it is, and this client's points go. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.interruptRequested = true;
    if (!this.running) this.forgetPoints();
  }

  private forgetPoints(): void {
    for (const id of this.mine) this.dbg.delete(id);
    this.mine.clear();
    this.hardware.clear();
  }

  private pump(): void {
    while (!this.running && !this.closed) {
      const body = this.nextPacket();
      if (body === null) return;
      let answer: string | Promise<string>;
      try {
        answer = this.handle(body);
      } catch (e) {
        this.events.error?.(e);
        answer = 'E01';
      }
      if (typeof answer === 'string') { this.reply(answer); continue; }
      this.running = true;
      void answer.catch((e: unknown) => { this.events.error?.(e); return 'E01'; }).then((a) => {
        this.running = false;
        if (this.closed) { this.forgetPoints(); return; }
        this.reply(a);
        this.pump();
      });
    }
  }

  /** The next complete, well-formed packet's body (acknowledged), or null when none is buffered. */
  private nextPacket(): string | null {
    for (;;) {
      const start = this.buffer.indexOf('$');
      if (start < 0) { this.buffer = ''; return null; } // acks, a stray Ctrl-C while stopped, noise
      if (start > 0) this.buffer = this.buffer.slice(start);
      const end = this.buffer.indexOf('#');
      if (end < 0) {
        if (this.buffer.length > MAX_PACKET + 4) this.buffer = this.buffer.slice(1); // too long to be a packet: drop its '$'
        return null;
      }
      if (this.buffer.length < end + 3) return null;
      const body = this.buffer.slice(1, end), sum = this.buffer.slice(end + 1, end + 3);
      this.buffer = this.buffer.slice(end + 3);
      if (body.includes('$') || body.length > MAX_PACKET) { if (!this.noAck) this.send('-'); continue; }
      if (!this.noAck) {
        if (sum.toLowerCase() !== checksum(body)) { this.send('-'); continue; }
        this.send('+');
      }
      return body;
    }
  }

  private reply(s: string): void {
    if (!this.closed) this.send(`$${s}#${checksum(s)}`);
  }

  private tid(t: DebugTarget): string {
    return (this.dbg.targets.indexOf(t) + 1).toString(16);
  }

  private targetOf(tid: string): DebugTarget | null | 'any' {
    if (tid === '0' || tid === '-1' || tid === '') return 'any';
    const n = parseInt(tid, 16);
    return /^[0-9a-f]+$/i.test(tid) ? this.dbg.targets[n - 1] ?? null : null;
  }

  private stopReply(ev: StopEvent): string {
    const r = ev.reason, thread = `thread:${this.tid(ev.target)};`;
    let s: string;
    switch (r.kind) {
      case 'exited': {
        // W: exited with a status; X0b: ended by a fault, reported as SIGSEGV; W00 otherwise (halted for good).
        const e = r.ending;
        s = e !== null && e.status !== null ? `W${hex8(e.status)}` : e?.fault ? 'X0b' : 'W00';
        break;
      }
      case 'interrupted': s = `T02${thread}`; break;
      case 'history-start': s = `T05${thread}replaylog:begin;`; break;
      case 'breakpoint': s = `T05${thread}${this.hardware.has(r.breakpoint.id) ? 'hwbreak' : 'swbreak'}:;`; break;
      case 'watchpoint': {
        const w = r.watchpoint;
        s = `T05${thread}${w.access === 'write' ? 'watch' : w.access === 'read' ? 'rwatch' : 'awatch'}:${r.address.toString(16)};`;
        break;
      }
      default: s = `T05${thread}`;
    }
    this.lastStop = s;
    return s;
  }

  /** One packet's answer: a string now, or a promise while the guest runs. */
  handle(p: string): string | Promise<string> {
    const t = this.dbg.current;
    switch (p[0]) {
      case '?': return this.lastStop;
      case 'g': { let s = ''; for (let i = 0; i < 16; i++) s += le32(readReg(t, i)!); return s; }
      case 'G': {
        if (!/^G[0-9a-f]{128}/i.test(p)) return 'E01';
        for (let i = 0; i < 10; i++) writeReg(t, i, parseLe32(p.slice(1 + i * 8, 9 + i * 8)));
        return 'OK';
      }
      case 'p': {
        const i = parseInt(p.slice(1), 16);
        if (!/^p[0-9a-f]{1,4}$/i.test(p) || regSize(i) === 0) return 'E01';
        const v = readReg(t, i);
        return v === null ? 'xx'.repeat(regSize(i)) : le32(v);
      }
      case 'P': {
        const m = /^P([0-9a-f]{1,4})=([0-9a-f]{8})$/i.exec(p);
        return m && writeReg(t, parseInt(m[1]!, 16), parseLe32(m[2]!)) ? 'OK' : 'E01';
      }
      case 'm': {
        const m = /^m([0-9a-f]{1,8}),([0-9a-f]{1,8})$/i.exec(p);
        if (!m) return 'E01';
        // As many bytes as are readable from the start (the protocol allows a short read); none is an error.
        const length = Math.min(parseInt(m[2]!, 16), MAX_MEMORY), b = readLinearPrefix(t, parseInt(m[1]!, 16), length);
        return b.length === 0 && length > 0 ? 'E14' : [...b].map(hex8).join('');
      }
      case 'M': {
        const m = /^M([0-9a-f]{1,8}),([0-9a-f]{1,8}):([0-9a-f]*)$/i.exec(p);
        if (!m) return 'E01';
        const len = parseInt(m[2]!, 16);
        if (len > MAX_MEMORY || m[3]!.length !== len * 2) return 'E01';
        const bytes = Uint8Array.from({ length: len }, (_, i) => parseInt(m[3]!.slice(i * 2, i * 2 + 2), 16));
        return writeLinear(t, parseInt(m[1]!, 16), bytes) ? 'OK' : 'E14';
      }
      case 'X': {
        const m = /^X([0-9a-f]{1,8}),([0-9a-f]{1,8}):([\s\S]*)$/i.exec(p);
        if (!m) return 'E01';
        const len = parseInt(m[2]!, 16), data = unescapeBinary(m[3]!);
        if (len > MAX_MEMORY || data.length !== len) return 'E01';
        return writeLinear(t, parseInt(m[1]!, 16), Uint8Array.from([...data].map((c) => c.charCodeAt(0) & 0xff))) ? 'OK' : 'E14';
      }
      case 'c': case 'C': case 's': case 'S': {
        // c [ADDR], C SIG[;ADDR] (and s, S): a signal means nothing to a guest and is dropped.
        const m = p[0] === 'c' || p[0] === 's' ? /^[cs]([0-9a-f]{1,8})?$/i.exec(p) : /^[CS][0-9a-f]{1,2}(?:;([0-9a-f]{1,8}))?$/i.exec(p);
        if (!m) return 'E01';
        if (m[1] !== undefined) t.eip = (parseInt(m[1], 16) - t.segment(1).base) >>> 0;
        return p[0].toLowerCase() === 'c' ? this.continueGuest() : this.stopReply(this.dbg.stepi());
      }
      case 'v': return this.vPacket(p);
      case 'Z': case 'z': return this.points(p);
      case 'b': return this.reverse(p);
      // The reply goes out first; then the connection ends.
      case 'D': this.forgetPoints(); queueMicrotask(() => this.events.detach?.()); return 'OK';
      case 'k': queueMicrotask(() => this.events.kill?.()); return 'OK';
      case 'H': {
        const target = this.targetOf(p.slice(2));
        if (target === null) return 'E01';
        if (p[1] === 'g' && target !== 'any') this.dbg.current = target;
        return 'OK';
      }
      case 'T': return this.targetOf(p.slice(1)) !== null ? 'OK' : 'E01';
      case 'q': case 'Q': return this.query(p);
      default: return '';
    }
  }

  private continueGuest(): Promise<string> {
    this.interruptRequested = false;
    return this.dbg.contInterruptible(() => this.interruptRequested).then((ev) => this.stopReply(ev));
  }

  private vPacket(p: string): string | Promise<string> {
    if (p === 'vCont?') return 'vCont;c;C;s;S';
    if (p.startsWith('vCont;')) {
      const actions = p.slice(6).split(';').map((a) => { const [act = '', tid] = a.split(':'); return { act: act[0] ?? '', tid }; });
      // All-stop: a step of one thread steps that VM (the others run only as the scheduler lets them); else continue.
      const step = actions.find((a) => a.act === 's' || a.act === 'S');
      if (step) {
        if (step.tid !== undefined) {
          const target = this.targetOf(step.tid);
          if (target === null) return 'E01';
          if (target !== 'any') this.dbg.current = target;
        }
        return this.stopReply(this.dbg.stepi());
      }
      if (actions.some((a) => a.act === 'c' || a.act === 'C')) return this.continueGuest();
      return 'E01';
    }
    if (p.startsWith('vFile:')) return this.hostIo(p);
    if (p.startsWith('vKill')) { queueMicrotask(() => this.events.kill?.()); return 'OK'; }
    return '';
  }

  private points(p: string): string {
    const m = /^([Zz])([0-4]),([0-9a-f]{1,8}),([0-9a-f]{1,8})(?:;.*)?$/i.exec(p);
    if (!m) return 'E01';
    const insert = m[1] === 'Z', type = Number(m[2]), address = parseInt(m[3]!, 16), kind = parseInt(m[4]!, 16);
    if (type <= 1) {
      const existing = this.dbg.breakpoints.find((b) => this.mine.has(b.id) && b.address === address && b.space === 'virtual');
      if (insert) {
        if (existing) return 'OK';
        const b = this.dbg.addBreakpoint({ space: 'virtual', address, vm: null, temporary: false, condition: null, spec: `*0x${address.toString(16)}` });
        this.mine.add(b.id);
        if (type === 1) this.hardware.add(b.id);
      } else if (existing) {
        this.dbg.delete(existing.id);
        this.mine.delete(existing.id);
      }
      return 'OK';
    }
    if (kind < 1 || kind > MAX_MEMORY) return 'E01';
    const access: WatchAccess = type === 2 ? 'write' : type === 3 ? 'read' : 'access';
    if (insert) {
      const w = this.dbg.addWatchpoint({ access, space: 'virtual', address, length: kind, vm: null, spec: `*0x${address.toString(16)}` });
      this.mine.add(w.id);
    } else {
      const w = this.dbg.watchpoints.find((x) => this.mine.has(x.id) && x.address === address && x.access === access && x.length === kind);
      if (w) { this.dbg.delete(w.id); this.mine.delete(w.id); }
    }
    return 'OK';
  }

  /** bs, bc: reverse execution, when a time-travel engine is attached to the debugger. */
  private reverse(p: string): string {
    const reverse = this.dbg.reverse;
    if (!reverse || (p !== 'bs' && p !== 'bc')) return '';
    return this.stopReply(p === 'bs' ? reverse.stepBack(1) : reverse.continueBack());
  }

  private query(p: string): string {
    if (p.startsWith('qSupported')) {
      return `PacketSize=${MAX_PACKET.toString(16)};qXfer:features:read+;${this.symbolElf() ? 'qXfer:exec-file:read+;' : ''}swbreak+;hwbreak+;vContSupported+;QStartNoAckMode+${this.dbg.reverse ? ';ReverseStep+;ReverseContinue+' : ''}`;
    }
    if (p === 'QStartNoAckMode') { this.noAck = true; return 'OK'; }
    if (p === 'qAttached' || p.startsWith('qAttached:')) return '1'; // GDB's quit detaches, leaving the guest stopped
    if (p === 'qC') return `QC${this.tid(this.dbg.current)}`;
    if (p === 'qfThreadInfo') return 'm' + this.dbg.targets.map((t) => this.tid(t)).join(',');
    if (p === 'qsThreadInfo') return 'l';
    if (p.startsWith('qThreadExtraInfo,')) {
      const t = this.targetOf(p.slice(17));
      if (t === null || t === 'any') return 'E01';
      return Buffer.from(`VM ${t.id} ${t.name}: ${t.stopped() ?? (t.vcpu?.halted ? 'halted' : 'runnable')}`, 'latin1').toString('hex');
    }
    if (p === 'qSymbol::') return 'OK';
    if (p.startsWith('qXfer:exec-file:read:')) {
      const m = /^qXfer:exec-file:read:[0-9a-f]*:([0-9a-f]{1,8}),([0-9a-f]{1,8})$/i.exec(p), elf = this.symbolElf();
      if (!m) return 'E01';
      return elf === null ? 'E01' : this.xferChunk(elf.path, parseInt(m[1]!, 16), parseInt(m[2]!, 16));
    }
    if (p.startsWith('qXfer:features:read:')) {
      const m = /^qXfer:features:read:([^:]*):([0-9a-f]{1,8}),([0-9a-f]{1,8})$/i.exec(p);
      if (!m) return 'E01';
      if (m[1] !== 'target.xml') return 'E00';
      return this.xferChunk(TARGET_XML, parseInt(m[2]!, 16), parseInt(m[3]!, 16));
    }
    if (p.startsWith('qRcmd,')) {
      const hexText = p.slice(6);
      if (!/^([0-9a-f]{2})*$/i.test(hexText)) return 'E01';
      const out = this.monitor(Buffer.from(hexText, 'hex').toString('latin1').trim());
      return out === '' ? 'OK' : Buffer.from(out, 'latin1').toString('hex');
    }
    return '';
  }

  /** One qXfer reply: 'm' and a chunk, or 'l' and the last one. */
  private xferChunk(text: string, off: number, len: number): string {
    if (off > text.length) return 'E01';
    const end = off + Math.min(len, MAX_PACKET / 2);
    return (end >= text.length ? 'l' : 'm') + escapeBinary(text.slice(off, end));
  }

  /** The ELF with the first VM's sections and labels, made on first use; null without symbols. */
  private symbolElf(): { path: string; bytes: Uint8Array } | null {
    if (this.elf !== undefined) return this.elf;
    const t = this.dbg.targets[0]!, file = this.dbg.symbolsOf(t).file;
    this.elf = file === null || file.symbols.length === 0 ? null : {
      path: `/trapvisor/${t.name}.elf`,
      bytes: symbolElf(file, this.dbg.pc(t), (a, n) => readLinear(t, a, n) ?? t.readPhys(a, n)),
    };
    return this.elf;
  }

  /** Host I/O (vFile): GDB reads the symbol ELF as the target's executable. Replies are F RESULT[,ERRNO][;DATA]. */
  private hostIo(p: string): string {
    const [op = '', args = ''] = p.slice(6).split(/:(.*)/s);
    const n = args.split(',').map((x) => parseInt(x, 16));
    const ENOENT = 2, EBADF = 9, EACCES = 13;
    switch (op) {
      case 'setfs': return 'F0';
      case 'open': {
        const [name = '', flags = ''] = args.split(',');
        const elf = this.symbolElf(), path = /^([0-9a-f]{2})*$/i.test(name) ? Buffer.from(name, 'hex').toString('latin1') : '';
        if (elf === null || path !== elf.path) return `F-1,${ENOENT.toString(16)}`;
        if ((parseInt(flags, 16) & 3) !== 0) return `F-1,${EACCES.toString(16)}`; // read-only
        const fd = this.files.size === 0 ? 3 : Math.max(...this.files.keys()) + 1;
        this.files.set(fd, elf.bytes);
        return `F${fd.toString(16)}`;
      }
      case 'pread': {
        const bytes = this.files.get(n[0]!);
        if (bytes === undefined || n.length !== 3 || n.some((x) => Number.isNaN(x))) return `F-1,${EBADF.toString(16)}`;
        const chunk = bytes.subarray(n[2]!, n[2]! + Math.min(n[1]!, MAX_PACKET / 4));
        return `F${chunk.length.toString(16)};${escapeBinary(Buffer.from(chunk).toString('latin1'))}`;
      }
      case 'fstat': {
        const bytes = this.files.get(n[0]!);
        if (bytes === undefined) return `F-1,${EBADF.toString(16)}`;
        // GDB's struct stat: big-endian dev, ino, mode, nlink, uid, gid, rdev (4 each), size, blksize, blocks (8 each), three times (4 each).
        const st = new DataView(new ArrayBuffer(64));
        st.setUint32(8, 0o100444);
        st.setUint32(12, 1);
        st.setBigUint64(28, BigInt(bytes.length));
        st.setBigUint64(36, 4096n);
        st.setBigUint64(44, BigInt(Math.ceil(bytes.length / 512)));
        return `F40;${escapeBinary(Buffer.from(st.buffer).toString('latin1'))}`;
      }
      case 'close': return this.files.delete(n[0]!) ? 'F0' : `F-1,${EBADF.toString(16)}`;
      default: return '';
    }
  }

  /** A `monitor` command's output: the VMX view, or any `info` command; nothing that runs the guest. */
  private monitor(text: string): string {
    const [word = '', ...rest] = text.split(/\s+/);
    const arg = rest.join(' ');
    const command = ({
      vmcs: `info vmcs ${arg}`, exits: `info exits ${arg}`, 'exit-counts': 'info exit-counts', ept: `info ept ${arg}`,
      translate: `info translate ${arg}`, vms: 'info vms', info: `info ${arg}`,
    } as Record<string, string>)[word];
    if (word === 'help' || word === '') return MONITOR_HELP.join('\n') + '\n';
    if (command === undefined) return `unknown monitor command '${word}' (monitor help lists them)\n`;
    try {
      return this.cli.execute(command).lines.map((l) => l + '\n').join('');
    } catch (e) {
      return `${(e as Error).message}\n`;
    }
  }
}

/**
 * Listens on host:port (loopback unless told otherwise; port 0 picks a free one). One client at a
 * time; a second is refused while the first is attached. Detaching leaves the guest stopped and the
 * server listening for the next client; `k` closes the server (its 'close' event ends a session).
 */
export function startGdbServer(dbg: Debugger, cli: CommandInterpreter, port: number, log: (s: string) => void, host = '127.0.0.1'): Promise<Server> {
  let active: Socket | null = null;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    if (active !== null) {
      log(`gdb: refused ${socket.remoteAddress}:${socket.remotePort}: a client is already attached`);
      socket.end();
      return;
    }
    active = socket;
    log(`gdb: client ${socket.remoteAddress}:${socket.remotePort} attached`);
    socket.setEncoding('latin1');
    socket.setNoDelay(true);
    const session = new GdbSession(dbg, cli, (s) => { if (!socket.destroyed) socket.write(s, 'latin1'); }, {
      detach: () => { log('gdb: client detached; the guest stays stopped'); socket.end(); },
      kill: () => { log('gdb: client killed the target'); closeGdbServer(server); },
      error: (e) => log(`gdb: internal error: ${(e as Error)?.message ?? String(e)}`),
    });
    socket.on('data', (d: string) => session.receive(d));
    socket.on('close', () => {
      session.close();
      if (active === socket) active = null;
    });
  });
  connections.set(server, sockets);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      server.on('error', (e) => log(`gdb: ${e.message}`));
      const bound = (server.address() as AddressInfo).port;
      log(`gdb: listening on ${host}:${bound}; attach with: gdb -ex 'target remote ${host}:${bound}'`);
      resolve(server);
    });
  });
}

const connections = new WeakMap<Server, Set<Socket>>();

/** Stops listening and ends the client's connection; the server's 'close' event follows. */
export function closeGdbServer(server: Server): void {
  server.close();
  for (const s of connections.get(server) ?? []) s.end();
}

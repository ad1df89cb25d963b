/**
 * Replays the real-CPU oracle fixtures (test/oracle/fixtures, made by `npm run oracle`) on
 * trapvisor's CPU, through both execution engines, and compares registers, the defined flags,
 * segment selectors (qemu-i386 cases), every changed byte of the data window and the exception.
 *
 * The machine is the one the oracle process saw: flat 32-bit user segments at CPL 3 with Linux's
 * selectors (CS 0x23, DS/ES/SS 0x2B, FS/GS null, GDT entries 0-8 as qemu-i386 builds them), the code
 * sled and data window of test/oracle/format.ts, and an IDT whose gates are DPL 0 except #BP and
 * #OF (DPL 3, as Linux sets them). Each exception lands in its own HLT stub at ring 0, where the
 * frame the CPU pushed gives the user EIP, EFLAGS and ESP.
 *
 * Flags the table marks undefined for a row are masked (our CPU follows the Intel P6 model; the
 * native oracle is an AMD processor). Nothing else is.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cpu } from '../../emulator/cpu/cpu.js';
import { enterFlatProtectedMode, SEG_ATTR_UNUSABLE, SegReg } from '../../emulator/cpu/segments.js';
import { FORMS } from '../../emulator/isa/index.js';
import { DATA_BASE, DATA_SIZE, decodeFixture, INSN_ADDRESS, SLED_BASE, SLED_SIZE, USER_CS, USER_DS, type Fixture } from '../oracle/format.js';
import { descriptor } from './harness.js';

const GDT = 0x20000, IDT = 0x20800, HANDLERS = 0x21000, TSS = 0x21800, RING0_STACK = 0x30000;
const KERNEL_CS = 9 << 3, KERNEL_DS = 10 << 3, TSS_SEL = 11 << 3;
const VECTORS = 32;

const SIGILL = 4, SIGTRAP = 5, SIGBUS = 7, SIGFPE = 8, SIGSEGV = 11;
/** The signal Linux (and qemu-user, which mimics it) sends for each exception vector. */
function signalFor(vector: number): number {
  if (vector === 0) return SIGFPE;
  if (vector === 1 || vector === 3) return SIGTRAP;
  if (vector === 6) return SIGILL;
  if (vector === 11 || vector === 12 || vector === 17) return SIGBUS;
  return SIGSEGV;
}
const hasErrorCode = (v: number): boolean => v === 8 || (v >= 10 && v <= 14) || v === 17;

/** EFLAGS bits compared: OSZAPC, TF, IF, DF, IOPL, NT, AC, ID (not RF, VM, VIF, VIP). */
const FLAGS_COMPARED = 0x00247fd5;

class OracleMachine {
  readonly cpu = new Cpu({ ramSize: 1 << 20 });

  constructor(engine: 'blocks' | 'interpret') {
    const c = this.cpu;
    c.engine = engine;
    c.reset();
    enterFlatProtectedMode(c);
    const gdt: [number, number][] = Array.from({ length: 12 }, () => [0, 0]);
    gdt[USER_CS >> 3] = descriptor(0, 0xfffff, 0xfb, 0xc);
    gdt[USER_DS >> 3] = descriptor(0, 0xfffff, 0xf3, 0xc);
    gdt[KERNEL_CS >> 3] = descriptor(0, 0xfffff, 0x9b, 0xc);
    gdt[KERNEL_DS >> 3] = descriptor(0, 0xfffff, 0x93, 0xc);
    gdt[TSS_SEL >> 3] = descriptor(TSS, 0x67, 0x89, 0);
    gdt.forEach(([lo, hi], i) => { c.mem.write32(GDT + i * 8, lo); c.mem.write32(GDT + i * 8 + 4, hi); });
    c.gdtBase = GDT; c.gdtLimit = gdt.length * 8 - 1;
    for (let v = 0; v < VECTORS; v++) {
      const handler = HANDLERS + v * 8;
      c.mem.write8(handler, 0xf4);
      const dpl = v === 3 || v === 4 ? 3 : 0;
      c.mem.write32(IDT + v * 8, (KERNEL_CS << 16) | (handler & 0xffff));
      c.mem.write32(IDT + v * 8 + 4, (handler & 0xffff0000) | 0x8e00 | (dpl << 13));
    }
    c.idtBase = IDT; c.idtLimit = VECTORS * 8 - 1;
    c.mem.write32(TSS + 4, RING0_STACK);
    c.mem.write32(TSS + 8, KERNEL_DS);
    c.mem.write16(TSS + 102, 0x68);
    c.segSel[SegReg.TR] = TSS_SEL; c.segBase[SegReg.TR] = TSS; c.segLimit[SegReg.TR] = 0x67; c.segAttr[SegReg.TR] = 0x8b;
    c.updateSegmentBounds(SegReg.TR);
    c.mem.u8.fill(0xcc, SLED_BASE, SLED_BASE + SLED_SIZE);
    c.flushDecodeCache();
  }

  /** Runs one case; returns a description of every difference from the oracle's result. */
  run(k: Fixture['cases'][number], oracle: string, undefinedFlags: number): string[] {
    const c = this.cpu, mem = c.mem;
    const set = (s: number, sel: number, attr: number): void => {
      c.segSel[s] = sel; c.segBase[s] = 0; c.segLimit[s] = attr === SEG_ATTR_UNUSABLE ? 0 : -1; c.segAttr[s] = attr;
      c.updateSegmentBounds(s);
    };
    set(SegReg.CS, USER_CS, 0xc0fb);
    for (const s of [SegReg.SS, SegReg.DS, SegReg.ES]) set(s, USER_DS, 0xc0f3);
    set(SegReg.FS, 0, SEG_ATTR_UNUSABLE);
    set(SegReg.GS, USER_DS, 0xc0f3); // qemu-i386 starts a process with GS = __USER_DS
    c.cpl = 3;
    for (let r = 0; r < 8; r++) c.r[r] = k.regs[r]!;
    c.eflags = (k.eflags & 0x0cd5) | 0x202;
    c.halted = false;
    c.interruptShadow = false;
    mem.u8.fill(0, DATA_BASE, DATA_BASE + DATA_SIZE);
    for (const ch of k.chunks) for (let i = 0; i < ch.bytes.length; i++) mem.u8[DATA_BASE + ch.at + i] = ch.bytes[i]!;
    for (let i = 0; i < k.code.length; i++) mem.write8(INSN_ADDRESS + i, k.code[i]!);
    c.eip = INSN_ADDRESS;
    c.run(1000);
    for (let i = 0; i < k.code.length; i++) mem.write8(INSN_ADDRESS + i, 0xcc);

    const diffs: string[] = [];
    const at = (c.eip - 1) >>> 0;
    if (!c.halted || at < HANDLERS || at >= HANDLERS + VECTORS * 8 || (at - HANDLERS) % 8 !== 0) {
      return [`did not end in an exception handler (eip ${hex(c.eip)}, halted ${c.halted})`];
    }
    const vector = (at - HANDLERS) >> 3;
    let sp = c.r[4]! >>> 0;
    const err = hasErrorCode(vector) ? mem.read32(sp) >>> 0 : 0;
    if (hasErrorCode(vector)) sp += 4;
    const eip = mem.read32(sp) >>> 0, eflags = mem.read32(sp + 8) >>> 0, esp = mem.read32(sp + 12) >>> 0;
    const x = k.result;

    // The exception (INT3 at the landing place is the normal end).
    if (oracle === 'native') {
      if (vector !== x.trapno) diffs.push(`vector ${vector}, oracle ${x.trapno}`);
    } else if (signalFor(vector) !== x.signal) diffs.push(`vector ${vector} (signal ${signalFor(vector)}), oracle signal ${x.signal} si_code ${hex(x.siCode)}`);
    if (hasErrorCode(vector) && x.signal !== SIGTRAP && vector !== 14 && err !== x.err) diffs.push(`error code ${hex(err)}, oracle ${hex(x.err)}`);
    if (eip !== x.eip) diffs.push(`eip ${hex(eip)}, oracle ${hex(x.eip)}`);
    for (let r = 0; r < 8; r++) {
      const v = r === 4 ? esp : c.r[r]! >>> 0;
      if (v !== x.regs[r]) diffs.push(`${REGS[r]} ${hex(v)}, oracle ${hex(x.regs[r]!)}`);
    }
    const m = FLAGS_COMPARED & ~undefinedFlags & ~(k.extraMask ?? 0);
    if ((eflags & m) !== (x.eflags & m)) diffs.push(`eflags ${hex(eflags & m)}, oracle ${hex(x.eflags & m)} (differ ${hex((eflags ^ x.eflags) & m)})`);
    if (oracle === 'qemu-i386') {
      const order = [SegReg.GS, SegReg.FS, SegReg.ES, SegReg.DS, SegReg.CS, SegReg.SS];
      const frame = (s: number): number => (s === SegReg.CS ? mem.read32(sp + 4) : s === SegReg.SS ? mem.read32(sp + 16) : c.segSel[s]!) & 0xffff;
      order.forEach((s, i) => { if (frame(s) !== x.segs[i]) diffs.push(`${SEGS[i]} ${hex(frame(s))}, oracle ${hex(x.segs[i]!)}`); });
    }
    // Memory: the initial bytes plus the oracle's changes must be exactly what the window holds.
    const expected = new Uint8Array(DATA_SIZE);
    for (const ch of k.chunks) expected.set(ch.bytes, ch.at);
    for (const [o, v] of x.changes) expected[o] = v;
    const actual = mem.u8.subarray(DATA_BASE, DATA_BASE + DATA_SIZE);
    for (let i = 0; i < DATA_SIZE; i++) {
      if (actual[i] !== expected[i]) { diffs.push(`memory [${hex(DATA_BASE + i)}] ${hex(actual[i]!)}, oracle ${hex(expected[i]!)}`); if (diffs.length > 12) break; }
    }
    return diffs;
  }
}

const REGS = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
const SEGS = ['gs', 'fs', 'es', 'ds', 'cs', 'ss'];
const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;

const FIXTURES = join(__dirname, '..', 'oracle', 'fixtures');
const FORM_BY_SOURCE = new Map(FORMS.map((f) => [f.source, f]));

for (const oracle of ['native', 'qemu-i386'] as const) {
  const fixture = decodeFixture(readFileSync(join(FIXTURES, `${oracle}.bin.gz`)));
  describe(`real-CPU oracle: ${oracle} (${fixture.header.count} cases, ${fixture.header.machine})`, () => {
    it('every case names a row of the table', () => {
      expect(fixture.header.forms.filter((s) => !FORM_BY_SOURCE.has(s))).toEqual([]);
    });
    for (const engine of ['interpret', 'blocks'] as const) {
      it(`trapvisor agrees (${engine})`, () => {
        const m = new OracleMachine(engine);
        const failures = new Map<string, string[]>();
        let failed = 0;
        for (const k of fixture.cases) {
          const form = FORM_BY_SOURCE.get(k.form);
          if (!form) continue;
          const diffs = m.run(k, oracle, form.flagsUndefined);
          if (diffs.length === 0) continue;
          failed++;
          const list = failures.get(k.form) ?? [];
          if (list.length < 3) {
            list.push(`${k.code.map((b) => b.toString(16).padStart(2, '0')).join(' ')} regs ${k.regs.map(hex).join(' ')} flags ${hex(k.eflags)}: ${diffs.join('; ')}`);
          }
          failures.set(k.form, list);
        }
        const report = [...failures].map(([f, l]) => `${f}\n    ${l.join('\n    ')}`);
        if (process.env.ORACLE_REPORT) writeFileSync(`${process.env.ORACLE_REPORT}.${oracle}.${engine}.txt`, report.join('\n'));
        expect(report, `${failed} of ${fixture.cases.length} cases differ`).toEqual([]);
      });
    }
  });
}

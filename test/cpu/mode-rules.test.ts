/**
 * Mode rules the SDM states per instruction that the generic `pm` (UD outside protected mode)
 * rule must not cover: SYSENTER and SYSEXIT raise #GP(0) in real-address mode, not #UD; x87
 * instructions (no FPU here) raise #NM where CR0.EM/TS/MP say so, else #UD.
 */
import { describe, expect, it } from 'vitest';
import { Msr, writeMsr } from '../../emulator/cpu/msr.js';
import { loadSegmentRealMode, SegReg } from '../../emulator/cpu/segments.js';
import { Machine, runCode } from './harness.js';

/** Runs `bytes` at 0x1000:0 in real mode with every IVT vector pointing at its own HLT; returns the vector taken. */
function realModeVector(bytes: number[]): number | null {
  const m = new Machine();
  const c = m.cpu;
  c.reset();
  for (let v = 0; v < 32; v++) {
    c.mem.write16(v * 4, 0x100 + v); // offset
    c.mem.write16(v * 4 + 2, 0x0000); // segment
    c.mem.write8(0x100 + v, 0xf4);
  }
  writeMsr(c, Msr.IA32_SYSENTER_CS, 0x08n);
  loadSegmentRealMode(c, SegReg.CS, 0x1000);
  for (const s of [SegReg.DS, SegReg.ES, SegReg.SS]) loadSegmentRealMode(c, s, 0);
  c.r[4] = 0x8000;
  c.eip = 0;
  m.poke(0x10000, [...bytes, 0xf4]);
  c.flushDecodeCache();
  c.run(10);
  const at = c.eip - 1 + c.segBase[SegReg.CS]!;
  return at >= 0x100 && at < 0x120 ? at - 0x100 : null;
}

describe('instruction mode rules', () => {
  it('SYSENTER in real-address mode raises #GP(0)', () => {
    expect(realModeVector([0x0f, 0x34])).toBe(13);
  });
  it('SYSEXIT in real-address mode raises #GP(0)', () => {
    expect(realModeVector([0x0f, 0x35])).toBe(13);
  });
  it('a protected-mode-only instruction (LLDT) is still #UD in real mode', () => {
    expect(realModeVector([0x0f, 0x00, 0xd0])).toBe(6);
  });

  const x87 = (bytes: number[], cr0Bits: number): number | undefined =>
    runCode(bytes, (m) => { m.cpu.mmu.cr0 |= cr0Bits; }).out.exception?.vector;
  it('x87 escapes raise #NM when CR0.TS or CR0.EM is set, #UD otherwise', () => {
    expect(x87([0xd8, 0xc1], 0x8)).toBe(7); // fadd st0, st1 with TS
    expect(x87([0x66, 0xdd, 0x05, 0, 0, 2, 0], 0x4)).toBe(7); // fld qword [..] with EM, after a prefix
    expect(x87([0xd9, 0xee], 0)).toBe(6); // fldz: no FPU
  });
  it('WAIT raises #NM only when CR0.MP and CR0.TS are both set', () => {
    expect(x87([0x9b], 0xa)).toBe(7);
    expect(x87([0x9b], 0x8)).toBe(6);
  });
});

/**
 * Mode rules the SDM states per instruction that the generic `pm` (UD outside protected mode)
 * rule must not cover: SYSENTER and SYSEXIT raise #GP(0) in real-address mode, not #UD.
 */
import { describe, expect, it } from 'vitest';
import { Msr, writeMsr } from '../../emulator/cpu/msr.js';
import { loadSegmentRealMode, SegReg } from '../../emulator/cpu/segments.js';
import { Machine } from './harness.js';

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
});

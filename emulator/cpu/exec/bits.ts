/**
 * Bit test and scan: BT, BTS, BTR, BTC, BSF, BSR (SDM Vol. 2A).
 *
 * With a register bit offset and a memory operand, the offset is a signed integer that may address
 * memory beyond the operand: the operand is the word or dword at EA + (offset >> log2(size)) *
 * size/8 (SDM BT, "Bit Base and Bit Offset"); an immediate offset is taken modulo the size.
 *
 * Models for undefined flags (tests mask them): BT* change CF only (OF SF AF PF keep their values,
 * and ZF is unaffected as current SDMs state); BSF/BSR set ZF only.
 */
import type { DecodedInsn } from '../../isa/decoder.js';
import type { Cpu } from '../cpu.js';
import { CF } from '../flags.js';
import { setFlagBits, setZeroFlag } from './eager-flags.js';
import type { ExecutorFamily } from './index.js';
import { effectiveAddress, getReg, readE, readMem, setReg, signExtend, writeMem, type Width } from './operands.js';

type BitAction = 'test' | 'set' | 'reset' | 'complement';

function apply(action: BitAction, v: number, bit: number): number {
  const m = 1 << bit;
  return action === 'set' ? v | m : action === 'reset' ? v & ~m : action === 'complement' ? v ^ m : v;
}

function bitTest(action: BitAction) {
  return (c: Cpu, d: DecodedInsn): void => {
    const w = d.opsize as Width;
    const immediate = d.form.operands[1] === 'Ib';
    const offset = immediate ? d.imm & 0xff : getReg(c, d.reg, w);
    if (!d.hasMemory) {
      const bit = offset & (w - 1);
      const v = getReg(c, d.rm, w);
      if (action !== 'test') setReg(c, d.rm, w, apply(action, v, bit));
      setFlagBits(c, CF, (v >>> bit) & 1 ? CF : 0);
      return;
    }
    let ea = effectiveAddress(c, d);
    if (!immediate) {
      // Signed bit offset: whole operands before or after EA (arithmetic shift floors negatives).
      const units = signExtend(offset, w) >> (w === 32 ? 5 : 4);
      ea = ea + units * (w / 8);
      ea = d.adsize === 16 ? ea & 0xffff : ea | 0;
    }
    const bit = offset & (w - 1);
    const v = readMem(c, d.segment, ea, w);
    // The store happens before CF changes, so a faulting store leaves the flags as they were.
    if (action !== 'test') writeMem(c, d.segment, ea, w, apply(action, v, bit));
    setFlagBits(c, CF, (v >>> bit) & 1 ? CF : 0);
  };
}

/** BSF/BSR: source 0 sets ZF and leaves the destination unchanged. */
function bitScan(reverse: boolean) {
  return (c: Cpu, d: DecodedInsn): void => {
    const w = d.opsize as Width;
    const src = readE(c, d, w) & (w === 32 ? -1 : (1 << w) - 1);
    if (src === 0) {
      setZeroFlag(c, true);
      return;
    }
    const index = reverse ? 31 - Math.clz32(src) : 31 - Math.clz32(src & -src);
    setReg(c, d.reg, w, index);
    setZeroFlag(c, false);
  };
}

export const BITS: ExecutorFamily = {
  BT: bitTest('test'),
  BTS: bitTest('set'),
  BTR: bitTest('reset'),
  BTC: bitTest('complement'),
  BSF: bitScan(false),
  BSR: bitScan(true),
};

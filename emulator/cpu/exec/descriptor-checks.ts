/**
 * Descriptor checks that report through ZF instead of faulting: LAR, LSL, VERR, VERW, and ARPL
 * (SDM Vol. 2A/2B, and Vol. 3A 5.10.1). A selector that is null, lies beyond the GDT or LDT limit,
 * names a type the instruction does not accept, or fails the privilege check gives ZF = 0 and leaves
 * the destination unchanged.
 */
import type { DecodedInsn } from '../../isa/decoder.js';
import type { Cpu } from '../cpu.js';
import { isCpuFault, Vector } from '../faults.js';
import { descriptorAttr, descriptorLimit, readDescriptor, type Descriptor } from '../segments.js';
import { setZeroFlag } from './eager-flags.js';
import type { ExecutorFamily } from './index.js';
import { modifyE, readE, setReg, type Width } from './operands.js';

/** System-descriptor types LAR accepts (SDM LAR, table 3-51: TSSs, LDT, call and task gates). */
const LAR_SYSTEM_TYPES: ReadonlySet<number> = new Set([0x1, 0x2, 0x3, 0x4, 0x5, 0x9, 0xb, 0xc]);
/** System-descriptor types LSL accepts (SDM LSL, table 3-62: TSSs and LDT; no gates). */
const LSL_SYSTEM_TYPES: ReadonlySet<number> = new Set([0x1, 0x2, 0x3, 0x9, 0xb]);

/** The descriptor a selector names, or null when it is null or outside its table's limit. */
function lookUp(c: Cpu, selector: number): Descriptor | null {
  if ((selector & ~3) === 0) return null;
  try {
    return readDescriptor(c, selector);
  } catch (e) {
    // readDescriptor raises #GP only for the limit check; page faults on the table still apply.
    if (isCpuFault(e) && e.vector === Vector.GP) return null;
    throw e;
  }
}

/** DPL >= max(CPL, RPL), waived for conforming code segments. */
function privilegeOk(c: Cpu, selector: number, attr: number): boolean {
  const conformingCode = (attr & 0x1c) === 0x1c;
  const dpl = (attr >> 5) & 3;
  return conformingCode || (dpl >= c.cpl && dpl >= (selector & 3));
}

/** The descriptor if LAR (or LSL, with its type set) accepts it, else null. */
function accessible(c: Cpu, selector: number, systemTypes: ReadonlySet<number>): Descriptor | null {
  const desc = lookUp(c, selector);
  if (!desc) return null;
  const attr = descriptorAttr(desc);
  if (!(attr & 0x10) && !systemTypes.has(attr & 0xf)) return null;
  return privilegeOk(c, selector, attr) ? desc : null;
}

function lar(c: Cpu, d: DecodedInsn): void {
  const w = d.opsize as Width;
  const desc = accessible(c, readE(c, d, 16), LAR_SYSTEM_TYPES);
  // The SDM's mask is 00FxFF00H with bits 19:16 undefined; P6-family processors return them
  // (limit bits 19:16), so the model keeps them.
  if (desc) setReg(c, d.reg, w, w === 32 ? desc.high & 0x00ffff00 : desc.high & 0xff00);
  setZeroFlag(c, desc !== null);
}

function lsl(c: Cpu, d: DecodedInsn): void {
  const w = d.opsize as Width;
  const desc = accessible(c, readE(c, d, 16), LSL_SYSTEM_TYPES);
  if (desc) setReg(c, d.reg, w, descriptorLimit(desc) | 0);
  setZeroFlag(c, desc !== null);
}

/** VERR/VERW: code or data segments only; readable (data, or readable code) / writable data. */
function verify(write: boolean) {
  return (c: Cpu, d: DecodedInsn): void => {
    const selector = readE(c, d, 16);
    const desc = lookUp(c, selector);
    let ok = false;
    if (desc) {
      const attr = descriptorAttr(desc);
      const isSegment = (attr & 0x10) !== 0, isCode = (attr & 0x8) !== 0, rw = (attr & 0x2) !== 0;
      ok = isSegment && privilegeOk(c, selector, attr) && (write ? !isCode && rw : !isCode || rw);
    }
    setZeroFlag(c, ok);
  };
}

/** ARPL: raises the destination selector's RPL to the source's (ZF = 1 when it changed). */
function arpl(c: Cpu, d: DecodedInsn): void {
  const srcRpl = c.r16[d.reg * 2]! & 3;
  let changed = false;
  modifyE(c, d, 16, (dest) => {
    changed = (dest & 3) < srcRpl;
    return changed ? (dest & ~3) | srcRpl : dest;
  });
  setZeroFlag(c, changed);
}

export const DESCRIPTOR_CHECKS: ExecutorFamily = {
  LAR: lar,
  LSL: lsl,
  VERR: verify(false),
  VERW: verify(true),
  ARPL: arpl,
};

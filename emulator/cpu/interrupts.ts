/**
 * Delivery of exceptions and interrupts (SDM Vol. 3A chapter 6 and the INT n pseudo-code): through
 * the real-mode IVT, or through protected-mode interrupt and trap gates with the TSS stack switch
 * when entering an inner ring (and leaving virtual-8086 mode).
 */
import type { Cpu } from './cpu.js';
import { raise, Vector } from './faults.js';
import { AC, IF, NT, RF, TF, VM } from './flags.js';
import { taskSwitchThroughGate } from './tasks.js';
import {
  descriptorAttr, loadSegmentRealMode, readDescriptor, SegReg, SEG_ATTR_UNUSABLE, setSegmentCache,
  type Descriptor,
} from './segments.js';

/**
 * 'exception': a fault or trap raised by the CPU (return address = cpu.eip, already set right);
 * 'software': INT n / INT3 / INTO (return to the next instruction, gate DPL checked);
 * 'external': an interrupt from the INTR line (return to cpu.eip).
 */
export type EventKind = 'exception' | 'software' | 'external';

export function deliverInterrupt(cpu: Cpu, vector: number, errorCode: number, kind: EventKind): void {
  const returnEip = kind === 'software' ? cpu.nextEip : cpu.eip;
  if (!cpu.protectedMode) {
    deliverRealMode(cpu, vector, returnEip);
    return;
  }
  deliverProtectedMode(cpu, vector, errorCode, kind, returnEip);
}

function deliverRealMode(cpu: Cpu, vector: number, returnEip: number): void {
  if (vector * 4 + 3 > cpu.idtLimit) raise(Vector.GP, 0);
  const entry = cpu.readSystem32(cpu.idtBase + vector * 4);
  const flags = cpu.eflags;
  cpu.push(2, flags);
  cpu.push(2, cpu.segSel[SegReg.CS]!);
  cpu.push(2, returnEip);
  cpu.eflags = flags & ~(IF | TF | AC);
  loadSegmentRealMode(cpu, SegReg.CS, entry >>> 16);
  cpu.eip = cpu.nextEip = entry & 0xffff;
}

function deliverProtectedMode(cpu: Cpu, vector: number, errorCode: number, kind: EventKind, returnEip: number): void {
  const ext = kind === 'software' ? 0 : 1;
  const idtError = (vector << 3) | 2 | ext;
  if (vector * 8 + 7 > cpu.idtLimit) raise(Vector.GP, idtError);
  const low = cpu.readSystem32(cpu.idtBase + vector * 8);
  const high = cpu.readSystem32(cpu.idtBase + vector * 8 + 4);
  const type = (high >>> 8) & 0x1f;
  const gateDpl = (high >>> 13) & 3;
  if (![0x05, 0x06, 0x07, 0x0e, 0x0f].includes(type)) raise(Vector.GP, idtError);
  if (kind === 'software' && gateDpl < cpu.cpl) raise(Vector.GP, idtError);
  if (!(high & 0x8000)) raise(Vector.NP, idtError);
  if (type === 0x05) {
    taskSwitchThroughGate(cpu, low >>> 16, 'interrupt', returnEip, errorCode);
    return;
  }
  const is32 = (type & 8) !== 0;
  const isInterruptGate = (type & 1) === 0;
  const selector = low >>> 16;
  const offset = is32 ? ((low & 0xffff) | (high & 0xffff0000)) >>> 0 : low & 0xffff;
  if ((selector & ~3) === 0) raise(Vector.GP, ext);
  // An event's own delivery faults with EXT set in the error code (SDM Vol. 3A 6.13).
  const d = readDescriptor(cpu, selector, Vector.GP, ext);
  const attr = descriptorAttr(d);
  const dpl = (attr >> 5) & 3;
  if ((attr & 0x18) !== 0x18 || dpl > cpu.cpl) raise(Vector.GP, (selector & 0xfffc) | ext);
  if (!(attr & 0x80)) raise(Vector.NP, (selector & 0xfffc) | ext);
  const conforming = (attr & 4) !== 0;
  const fromV86 = cpu.v86;
  const flags = cpu.eflags;
  const size = is32 ? 4 : 2;

  if (!conforming && dpl < cpu.cpl) {
    // Inter-privilege: stack from the TSS (SDM 6.12.1).
    if (fromV86 && dpl !== 0) raise(Vector.GP, (selector & 0xfffc) | ext);
    const { ss, esp } = stackFromTss(cpu, dpl, ext);
    const ssDesc = validateNewStack(cpu, ss, dpl, ext);
    const saved = saveState(cpu);
    const oldSs = cpu.segSel[SegReg.SS]!, oldEsp = cpu.r[4]!;
    try {
      setSegmentCache(cpu, SegReg.SS, ss, ssDesc);
      cpu.r[4] = esp;
      cpu.cpl = dpl;
      if (fromV86) {
        cpu.lf.flags &= ~VM;
        for (const s of [SegReg.GS, SegReg.FS, SegReg.DS, SegReg.ES]) cpu.push(size, cpu.segSel[s]!);
      }
      cpu.push(size, oldSs);
      cpu.push(size, oldEsp);
      pushFrame(cpu, size, flags, returnEip, errorCode);
    } catch (e) {
      restoreState(cpu, saved);
      throw e;
    }
    if (fromV86) {
      for (const s of [SegReg.GS, SegReg.FS, SegReg.DS, SegReg.ES]) {
        cpu.segSel[s] = 0; cpu.segAttr[s] = SEG_ATTR_UNUSABLE; cpu.updateSegmentBounds(s);
      }
    }
  } else {
    if (fromV86) raise(Vector.GP, (selector & 0xfffc) | ext);
    pushFrame(cpu, size, flags, returnEip, errorCode);
  }
  setSegmentCache(cpu, SegReg.CS, (selector & ~3) | cpu.cpl, d);
  let newFlags = cpu.eflags & ~(TF | NT | RF | VM);
  if (isInterruptGate) newFlags &= ~IF;
  cpu.eflags = newFlags;
  cpu.eip = cpu.nextEip = offset;
}

function pushFrame(cpu: Cpu, size: 2 | 4, flags: number, returnEip: number, errorCode: number): void {
  cpu.push(size, flags);
  cpu.push(size, cpu.segSel[SegReg.CS]!);
  cpu.push(size, returnEip);
  if (errorCode >= 0) cpu.push(size, errorCode);
}

/** Reads SSn:ESPn for ring `dpl` from the current TSS (32- or 16-bit), with #TS on a short TSS. */
export function stackFromTss(cpu: Cpu, dpl: number, ext: number): { ss: number; esp: number } {
  const trBase = cpu.segBase[SegReg.TR]!, trLimit = cpu.segLimit[SegReg.TR]! >>> 0;
  const is32 = (cpu.segAttr[SegReg.TR]! & 0xf) === 0xb || (cpu.segAttr[SegReg.TR]! & 0xf) === 0x9;
  const trError = (cpu.segSel[SegReg.TR]! & 0xfffc) | ext;
  if (is32) {
    const at = 4 + dpl * 8;
    if (at + 5 > trLimit) raise(Vector.TS, trError);
    return { esp: cpu.readSystem32(trBase + at), ss: cpu.readSystem16(trBase + at + 4) };
  }
  const at = 2 + dpl * 4;
  if (at + 3 > trLimit) raise(Vector.TS, trError);
  return { esp: cpu.readSystem16(trBase + at), ss: cpu.readSystem16(trBase + at + 2) };
}

/** The SDM's checks on a stack segment taken from the TSS (#TS, #SS). */
export function validateNewStack(cpu: Cpu, ss: number, dpl: number, ext: number): Descriptor {
  const err = (ss & 0xfffc) | ext;
  if ((ss & ~3) === 0) raise(Vector.TS, ext);
  const d = readDescriptor(cpu, ss, Vector.TS);
  const attr = descriptorAttr(d);
  if ((ss & 3) !== dpl || ((attr >> 5) & 3) !== dpl || (attr & 0x1a) !== 0x12) raise(Vector.TS, err);
  if (!(attr & 0x80)) raise(Vector.SS, err);
  return d;
}

interface SavedState {
  cpl: number; esp: number; flags: number;
  ss: [number, number, number, number];
}

function saveState(cpu: Cpu): SavedState {
  return {
    cpl: cpu.cpl, esp: cpu.r[4]!, flags: cpu.lf.flags,
    ss: [cpu.segSel[SegReg.SS]!, cpu.segBase[SegReg.SS]!, cpu.segLimit[SegReg.SS]!, cpu.segAttr[SegReg.SS]!],
  };
}

function restoreState(cpu: Cpu, s: SavedState): void {
  cpu.cpl = s.cpl; cpu.r[4] = s.esp; cpu.lf.flags = s.flags;
  [cpu.segSel[SegReg.SS], cpu.segBase[SegReg.SS], cpu.segLimit[SegReg.SS], cpu.segAttr[SegReg.SS]] = s.ss;
  cpu.updateSegmentBounds(SegReg.SS);
}

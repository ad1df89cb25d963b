/**
 * Hardware task switching (SDM Vol. 3A 7.3): JMP/CALL to a TSS or task gate, interrupts and
 * exceptions through a task gate, and IRET with EFLAGS.NT set. 32-bit and 16-bit TSSs.
 *
 * The steps are the SDM's, in its order: checks on the new TSS that fault in the old task's context,
 * then saving the old state, busy bits and back link, loading TR, and finally loading the new task's
 * registers and segments, whose faults are delivered in the new task's context.
 */
import type { Cpu } from './cpu.js';
import { raise, Vector } from './faults.js';
import { ExitReason } from '../vmx/controls.js';
import { NT, VM } from './flags.js';
import {
  descriptorAttr, descriptorBase, descriptorLimit, loadSegmentRealMode, markAccessed, readDescriptor,
  SegReg, SEG_ATTR_UNUSABLE, setSegmentCache, type Descriptor,
} from './segments.js';

/** A limitation of this emulator reached by a guest (never delivered to the guest as a fault). */
export class EmulatorLimitation extends Error {
  constructor(what: string) {
    super(`not implemented in this emulator yet: ${what}`);
    this.name = 'EmulatorLimitation';
  }
}

export type TaskSwitchSource = 'interrupt' | 'jmp' | 'call' | 'iret';

const TSS32_AVAILABLE = 0x9, TSS32_BUSY = 0xb, TSS16_AVAILABLE = 0x1, TSS16_BUSY = 0x3, TASK_GATE = 0x5;

/** Offsets of the saved registers in a 32-bit and a 16-bit TSS (SDM figures 7-2 and 7-11). */
const LAYOUT = {
  32: { eip: 0x20, eflags: 0x24, gpr: 0x28, gprStep: 4, seg: 0x48, segStep: 4, ldt: 0x60, cr3: 0x1c, minLimit: 0x67 },
  16: { eip: 0x0e, eflags: 0x10, gpr: 0x12, gprStep: 2, seg: 0x22, segStep: 2, ldt: 0x2a, cr3: -1, minLimit: 0x2b },
} as const;

/**
 * Switches to the task named by `selector` (a TSS descriptor, or a task gate for JMP/CALL/INT).
 * `returnEip` is the EIP saved in the old TSS. For interrupts, `errorCode` (>= 0) is pushed on the
 * new task's stack once it runs.
 */
export function taskSwitchThroughGate(cpu: Cpu, selector: number, source: TaskSwitchSource, returnEip: number, errorCode: number): void {
  const ext = source === 'interrupt' ? 1 : 0;
  let tssSelector = selector & 0xffff;
  let desc = readDescriptor(cpu, tssSelector, source === 'iret' ? Vector.TS : Vector.GP);
  let attr = descriptorAttr(desc);
  if ((attr & 0x1f) === TASK_GATE) {
    // A task gate names the TSS in its selector field; the gate's DPL was checked by the caller.
    if (source !== 'interrupt') {
      const dpl = (attr >> 5) & 3;
      if (dpl < cpu.cpl || dpl < (selector & 3)) raise(Vector.GP, selector & 0xfffc);
      if (!(attr & 0x80)) raise(Vector.NP, selector & 0xfffc);
    }
    tssSelector = desc.low >>> 16;
    if (tssSelector & 4) raise(Vector.GP, (tssSelector & 0xfffc) | ext); // TSS must be in the GDT
    desc = readDescriptor(cpu, tssSelector, Vector.GP);
    attr = descriptorAttr(desc);
  } else if (source === 'jmp' || source === 'call') {
    const dpl = (attr >> 5) & 3;
    if (dpl < cpu.cpl || dpl < (selector & 3)) raise(Vector.GP, tssSelector & 0xfffc);
  }
  const type = attr & 0x1f;
  const err = (tssSelector & 0xfffc) | ext;
  const isTss = type === TSS32_AVAILABLE || type === TSS32_BUSY || type === TSS16_AVAILABLE || type === TSS16_BUSY;
  if (!isTss || (tssSelector & 4)) raise(source === 'iret' ? Vector.TS : Vector.GP, err);
  const busy = type === TSS32_BUSY || type === TSS16_BUSY;
  if (source === 'iret' ? !busy : busy) raise(source === 'iret' ? Vector.TS : Vector.GP, err);
  if (!(attr & 0x80)) raise(Vector.NP, err);
  const newBits = type === TSS32_AVAILABLE || type === TSS32_BUSY ? 32 : 16;
  const newLayout = LAYOUT[newBits];
  if (descriptorLimit(desc) < newLayout.minLimit) raise(Vector.TS, err);

  // Task switches are not allowed in VMX non-root operation: they exit (SDM 26.4.2), with the
  // TSS selector and how the switch began (0 CALL, 1 IRET, 2 JMP, 3 task gate in the IDT).
  if (cpu.vmx.nonRoot && !cpu.vmx.emulating) {
    const how = source === 'call' ? 0 : source === 'iret' ? 1 : source === 'jmp' ? 2 : 3;
    cpu.vmx.exitFor(ExitReason.TASK_SWITCH, (tssSelector & 0xffff) | (how << 30), ((cpu.nextEip - cpu.eip) >>> 0) & 0xf);
  }

  // --- save the old task ---
  const oldSelector = cpu.segSel[SegReg.TR]!;
  const oldBase = cpu.segBase[SegReg.TR]!;
  const oldBits = (cpu.segAttr[SegReg.TR]! & 0xf) === TSS32_BUSY ? 32 : 16;
  const oldLayout = LAYOUT[oldBits];
  if ((cpu.segLimit[SegReg.TR]! >>> 0) < oldLayout.minLimit) raise(Vector.TS, (oldSelector & 0xfffc) | ext);
  let eflags = cpu.eflags;
  if (source === 'jmp' || source === 'iret') setBusy(cpu, oldSelector, false);
  if (source === 'iret') eflags &= ~NT;
  const w = (off: number, v: number): void => {
    if (oldBits === 32) cpu.writeSystem32(oldBase + off, v); else cpu.writeSystem16(oldBase + off, v);
  };
  w(oldLayout.eip, returnEip);
  w(oldLayout.eflags, eflags);
  for (let i = 0; i < 8; i++) w(oldLayout.gpr + i * oldLayout.gprStep, cpu.r[i]!);
  for (let s = 0; s < (oldBits === 32 ? 6 : 4); s++) {
    const seg = oldBits === 32 ? s : [SegReg.ES, SegReg.CS, SegReg.SS, SegReg.DS][s]!;
    if (oldBits === 32) cpu.writeSystem16(oldBase + oldLayout.seg + s * 4, cpu.segSel[seg]!);
    else cpu.writeSystem16(oldBase + oldLayout.seg + s * 2, cpu.segSel[seg]!);
  }

  // --- read the new task's state before anything of the old is lost ---
  const newBase = descriptorBase(desc);
  const r = (off: number): number => (newBits === 32 ? cpu.readSystem32(newBase + off) : cpu.readSystem16(newBase + off));
  const newEip = r(newLayout.eip) >>> 0;
  let newEflags = r(newLayout.eflags);
  const gprs = Array.from({ length: 8 }, (_, i) => r(newLayout.gpr + i * newLayout.gprStep));
  const segs = Array.from({ length: newBits === 32 ? 6 : 4 }, (_, i) =>
    cpu.readSystem16(newBase + newLayout.seg + i * newLayout.segStep));
  const ldt = cpu.readSystem16(newBase + newLayout.ldt);
  const cr3 = newBits === 32 ? cpu.readSystem32(newBase + 0x1c) : cpu.mmu.cr3;

  if (source === 'call' || source === 'interrupt') {
    cpu.writeSystem16(newBase, oldSelector); // back link
    newEflags |= NT;
  }
  if (source !== 'iret') setBusy(cpu, tssSelector, true);
  else {
    // The new (returned-to) task stays busy; its descriptor is re-read with the busy type.
  }

  // --- load TR; set CR0.TS ---
  desc = readDescriptor(cpu, tssSelector);
  setSegmentCache(cpu, SegReg.TR, tssSelector, desc);
  cpu.mmu.cr0 |= 8;
  // The local breakpoint enables (DR7 L0-L3) belong to the old task (SDM 17.2.4).
  if (cpu.dr[7]! & 0x55) { cpu.dr[7] = cpu.dr[7]! & ~0x55; cpu.updateDebugState(); }

  // --- load the new task's registers; faults from here on belong to the new task ---
  if (newBits === 32 && (cpu.mmu.cr0 & 0x80000000) && (cpu.mmu.cr3 !== cr3)) {
    cpu.mmu.cr3 = cr3;
    cpu.mmu.flush(true);
  } else if (newBits === 32) {
    cpu.mmu.cr3 = cr3;
  }
  cpu.eflags = newBits === 32 ? newEflags : (cpu.eflags & 0xffff0000) | (newEflags & 0xffff);
  cpu.eip = cpu.nextEip = newBits === 32 ? newEip : newEip & 0xffff;
  for (let i = 0; i < 8; i++) {
    if (newBits === 32) cpu.r[i] = gprs[i]!; else cpu.r16[i * 2] = gprs[i]!;
  }
  // Selectors first (so a fault reports the new task's selectors), then the descriptor checks.
  const order = newBits === 32
    ? [SegReg.ES, SegReg.CS, SegReg.SS, SegReg.DS, SegReg.FS, SegReg.GS]
    : [SegReg.ES, SegReg.CS, SegReg.SS, SegReg.DS];
  order.forEach((s, i) => { cpu.segSel[s] = segs[i]!; });
  if (newBits === 16) { cpu.segSel[SegReg.FS] = 0; cpu.segSel[SegReg.GS] = 0; }
  loadTaskLdt(cpu, ldt, ext);
  if (newEflags & VM && newBits === 32) {
    cpu.cpl = 3;
    for (const s of [SegReg.ES, SegReg.CS, SegReg.SS, SegReg.DS, SegReg.FS, SegReg.GS]) loadSegmentRealMode(cpu, s, cpu.segSel[s]!);
  } else {
    loadTaskSegments(cpu, ext);
  }
  if (errorCode >= 0 && source === 'interrupt') cpu.push(newBits === 32 ? 4 : 2, errorCode);
}

function setBusy(cpu: Cpu, selector: number, busy: boolean): void {
  const at = cpu.gdtBase + (selector & ~7) + 4;
  const high = cpu.readSystem32(at);
  cpu.writeSystem32(at, busy ? high | 0x200 : high & ~0x200);
}

function loadTaskLdt(cpu: Cpu, selector: number, ext: number): void {
  cpu.segSel[SegReg.LDTR] = selector;
  if ((selector & ~3) === 0) {
    cpu.segAttr[SegReg.LDTR] = SEG_ATTR_UNUSABLE;
    cpu.updateSegmentBounds(SegReg.LDTR);
    return;
  }
  if (selector & 4) raise(Vector.TS, (selector & 0xfffc) | ext);
  const d = readDescriptor(cpu, selector, Vector.TS);
  const attr = descriptorAttr(d);
  if ((attr & 0x1f) !== 0x2) raise(Vector.TS, (selector & 0xfffc) | ext);
  if (!(attr & 0x80)) raise(Vector.TS, (selector & 0xfffc) | ext);
  setSegmentCache(cpu, SegReg.LDTR, selector, d);
}

/** SDM 7.3 step 13: the segment checks of a task switch, each failing with #TS(selector). */
function loadTaskSegments(cpu: Cpu, ext: number): void {
  const cs = cpu.segSel[SegReg.CS]!;
  const ts = (sel: number): never => raise(Vector.TS, (sel & 0xfffc) | ext);
  if ((cs & ~3) === 0) ts(cs);
  const csDesc = readDescriptor(cpu, cs, Vector.TS);
  const csAttr = descriptorAttr(csDesc);
  if ((csAttr & 0x18) !== 0x18) ts(cs);
  const cpl = cs & 3, csDpl = (csAttr >> 5) & 3;
  if (csAttr & 4 ? csDpl > cpl : csDpl !== cpl) ts(cs);
  if (!(csAttr & 0x80)) raise(Vector.NP, (cs & 0xfffc) | ext);
  const ss = cpu.segSel[SegReg.SS]!;
  if ((ss & ~3) === 0) ts(ss);
  const ssDesc = readDescriptor(cpu, ss, Vector.TS);
  const ssAttr = descriptorAttr(ssDesc);
  if ((ss & 3) !== cpl || ((ssAttr >> 5) & 3) !== cpl || (ssAttr & 0x1a) !== 0x12) ts(ss);
  if (!(ssAttr & 0x80)) raise(Vector.SS, (ss & 0xfffc) | ext);
  cpu.cpl = cpl;
  markAccessed(cpu, csDesc);
  setSegmentCache(cpu, SegReg.CS, cs, csDesc);
  markAccessed(cpu, ssDesc);
  setSegmentCache(cpu, SegReg.SS, ss, ssDesc);
  for (const s of [SegReg.ES, SegReg.DS, SegReg.FS, SegReg.GS]) {
    const sel = cpu.segSel[s]!;
    if ((sel & ~3) === 0) {
      cpu.segAttr[s] = SEG_ATTR_UNUSABLE;
      cpu.updateSegmentBounds(s);
      continue;
    }
    const d: Descriptor = readDescriptor(cpu, sel, Vector.TS);
    const a = descriptorAttr(d);
    if (!(a & 0x10) || (a & 0xa) === 0x8) ts(sel);
    const dpl = (a >> 5) & 3;
    const conforming = (a & 0x1c) === 0x1c;
    if (!conforming && (dpl < cpl || dpl < (sel & 3))) ts(sel);
    if (!(a & 0x80)) raise(Vector.NP, (sel & 0xfffc) | ext);
    markAccessed(cpu, d);
    setSegmentCache(cpu, s, sel, d);
  }
}

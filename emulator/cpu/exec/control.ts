/**
 * Control transfer: JMP, Jcc, JCXZ, LOOPcc, CALL, RET, far JMP/CALL/RET, INT n/INT3/INTO, IRET,
 * BOUND, HLT, NOP, PAUSE, UD2; the flag instructions; and port I/O (IN, OUT) with the IOPL and
 * TSS I/O-bitmap checks (SDM Vol. 1 18.5).
 */
import type { DecodedInsn } from '../../isa/decoder.js';
import type { Cpu } from '../cpu.js';
import { raise, Vector } from '../faults.js';
import { CF, DF, IF, NT, OF, RF, VM } from '../flags.js';
import { stackFromTss, validateNewStack } from '../interrupts.js';
import { taskSwitchThroughGate } from '../tasks.js';
import {
  descriptorAttr, loadCodeSegment, loadSegmentRealMode, nullifyInaccessibleSegments, readDescriptor,
  SegReg, setSegmentCache, type Descriptor,
} from '../segments.js';
import type { ExecutorFamily } from './index.js';
import { effectiveAddress, getReg, readE, readMem, relativeTarget, signExtend, stackOperandSize, type Width } from './operands.js';

/** Checks a far transfer's EIP against the new CS limit (#GP(0)). */
function checkCodeLimit(c: Cpu, eip: number): void {
  if ((eip >>> 0) > c.segMax[SegReg.CS]!) raise(Vector.GP, 0);
}

/**
 * Far JMP/CALL to selector:offset. In protected mode only direct transfers to code segments are
 * emulated here; gates and TSS targets go to the task/gate code.
 */
function farTransfer(c: Cpu, selector: number, offset: number, isCall: boolean, size: 2 | 4): void {
  if (!c.protectedMode || c.v86) {
    if (isCall) {
      c.push(size, c.segSel[SegReg.CS]!);
      c.push(size, c.nextEip);
    }
    loadSegmentRealMode(c, SegReg.CS, selector);
    c.nextEip = size === 2 ? offset & 0xffff : offset;
    return;
  }
  if ((selector & ~3) === 0) raise(Vector.GP, 0);
  const d = readDescriptor(c, selector);
  const attr = descriptorAttr(d);
  const err = selector & 0xfffc;
  if (!(attr & 0x10)) {
    const type = attr & 0xf;
    if (type === 0x5 || type === 0x9 || type === 0x1) {
      taskSwitchThroughGate(c, selector, isCall ? 'call' : 'jmp', c.nextEip, -1);
      return;
    }
    if (type === 0x4 || type === 0xc) {
      transferThroughCallGate(c, selector, d, isCall);
      return;
    }
    raise(Vector.GP, err);
  }
  if (!(attr & 0x8)) raise(Vector.GP, err);
  const dpl = (attr >> 5) & 3, rpl = selector & 3;
  if (attr & 0x4) { if (dpl > c.cpl) raise(Vector.GP, err); } else if (rpl > c.cpl || dpl !== c.cpl) raise(Vector.GP, err);
  if (!(attr & 0x80)) raise(Vector.NP, err);
  const target = size === 2 ? offset & 0xffff : offset;
  const savedSp = c.r[4]!;
  if (isCall) {
    c.push(size, c.segSel[SegReg.CS]!);
    c.push(size, c.nextEip);
  }
  const saved = [c.segSel[1]!, c.segBase[1]!, c.segLimit[1]!, c.segAttr[1]!] as const;
  loadCodeSegment(c, selector, d, c.cpl);
  try {
    checkCodeLimit(c, target);
  } catch (e) {
    [c.segSel[1], c.segBase[1], c.segLimit[1], c.segAttr[1]] = saved;
    c.updateSegmentBounds(SegReg.CS);
    c.r[4] = savedSp;
    throw e;
  }
  c.nextEip = target;
}

/**
 * Far JMP/CALL through a call gate (SDM CALL, "CALL-GATE"): to the same privilege, or for CALL to
 * an inner privilege with the stack from the TSS and `count` parameters copied from the old stack.
 */
function transferThroughCallGate(c: Cpu, gateSelector: number, gate: Descriptor, isCall: boolean): void {
  const gattr = descriptorAttr(gate);
  const gateErr = gateSelector & 0xfffc;
  const gateDpl = (gattr >> 5) & 3;
  if (gateDpl < c.cpl || gateDpl < (gateSelector & 3)) raise(Vector.GP, gateErr);
  if (!(gattr & 0x80)) raise(Vector.NP, gateErr);
  const is32 = (gattr & 0xf) === 0xc;
  const size: 2 | 4 = is32 ? 4 : 2;
  const selector = gate.low >>> 16;
  const offset = is32 ? ((gate.low & 0xffff) | (gate.high & 0xffff0000)) >>> 0 : gate.low & 0xffff;
  const count = gate.high & 0x1f;
  if ((selector & ~3) === 0) raise(Vector.GP, 0);
  const d = readDescriptor(c, selector);
  const attr = descriptorAttr(d);
  const err = selector & 0xfffc;
  const dpl = (attr >> 5) & 3;
  if ((attr & 0x18) !== 0x18 || dpl > c.cpl) raise(Vector.GP, err);
  if (!(attr & 0x80)) raise(Vector.NP, err);
  const conforming = (attr & 4) !== 0;
  if (!isCall) {
    if (!conforming && dpl !== c.cpl) raise(Vector.GP, err);
    loadCodeSegment(c, selector, d, c.cpl);
    checkCodeLimit(c, offset);
    c.nextEip = offset;
    return;
  }
  const returnCs = c.segSel[SegReg.CS]!, returnEip = c.nextEip;
  if (!conforming && dpl < c.cpl) {
    const { ss, esp } = stackFromTss(c, dpl, 0);
    const ssDesc = validateNewStack(c, ss, dpl, 0);
    const oldSs = c.segSel[SegReg.SS]!, oldEsp = c.r[4]!;
    // Parameters are read from the old stack before it is switched away.
    const params: number[] = [];
    for (let i = count - 1; i >= 0; i--) params.push(c.peek(size, i * size));
    const saved = { cpl: c.cpl, ss: [c.segSel[2]!, c.segBase[2]!, c.segLimit[2]!, c.segAttr[2]!] as const, esp: oldEsp };
    try {
      setSegmentCache(c, SegReg.SS, ss, ssDesc);
      c.r[4] = esp;
      c.cpl = dpl;
      c.push(size, oldSs);
      c.push(size, oldEsp);
      for (const p of params) c.push(size, p);
      c.push(size, returnCs);
      c.push(size, returnEip);
    } catch (e) {
      c.cpl = saved.cpl; c.r[4] = saved.esp;
      [c.segSel[2], c.segBase[2], c.segLimit[2], c.segAttr[2]] = saved.ss;
      c.updateSegmentBounds(SegReg.SS);
      throw e;
    }
    loadCodeSegment(c, selector, d, dpl);
  } else {
    c.push(size, returnCs);
    c.push(size, returnEip);
    loadCodeSegment(c, selector, d, c.cpl);
  }
  checkCodeLimit(c, offset);
  c.nextEip = offset;
}

function farPointerOperand(c: Cpu, d: DecodedInsn): [number, number] {
  if (d.form.operands[0] === 'Ap') return [d.imm2, d.imm];
  const ea = effectiveAddress(c, d);
  const w = d.opsize as Width;
  return [c.read16(d.segment, ea + w / 8), readMem(c, d.segment, ea, w)];
}

/** RETF / IRET's return to CS:EIP with the protected-mode privilege rules. Returns the new CPL. */
function farReturn(c: Cpu, size: 2 | 4, extraPop: number, iretFrom: { cpl: number; iopl: number } | null): void {
  const isIret = iretFrom !== null;
  const eip = c.peek(size, 0);
  const cs = c.peek(size, size) & 0xffff;
  const flagsOffset = isIret ? size : 0;
  if (!c.protectedMode || c.v86) {
    if (isIret) {
      const flags = c.peek(size, 2 * size);
      if (c.v86 && c.iopl < 3) raise(Vector.GP, 0);
      c.adjustSp(3 * size);
      let m = c.writableFlagsMask(size);
      if (c.v86) m &= ~0x3000;
      c.eflags = (c.eflags & ~m) | (flags & m);
    } else c.adjustSp(2 * size + extraPop);
    loadSegmentRealMode(c, SegReg.CS, cs);
    c.nextEip = size === 2 ? eip & 0xffff : eip;
    return;
  }
  if ((cs & ~3) === 0) raise(Vector.GP, 0);
  const d = readDescriptor(c, cs);
  const attr = descriptorAttr(d);
  const rpl = cs & 3, dpl = (attr >> 5) & 3;
  const err = cs & 0xfffc;
  if ((attr & 0x18) !== 0x18 || rpl < c.cpl) raise(Vector.GP, err);
  if (attr & 4 ? dpl > rpl : dpl !== rpl) raise(Vector.GP, err);
  if (!(attr & 0x80)) raise(Vector.NP, err);
  const flags = isIret ? c.peek(size, 2 * size) : 0;
  const target = size === 2 ? eip & 0xffff : eip;
  if (rpl === c.cpl) {
    c.adjustSp(2 * size + flagsOffset + extraPop);
    loadCodeSegment(c, cs, d, rpl);
  } else {
    // Return to an outer level: the outer SS:ESP follows on the stack.
    const base = 2 * size + flagsOffset + extraPop;
    const newEsp = c.peek(size, base), newSs = c.peek(size, base + size) & 0xffff;
    if ((newSs & ~3) === 0) raise(Vector.GP, 0);
    const sd = readDescriptor(c, newSs);
    const sattr = descriptorAttr(sd);
    if ((newSs & 3) !== rpl || ((sattr >> 5) & 3) !== rpl || (sattr & 0x1a) !== 0x12) raise(Vector.GP, newSs & 0xfffc);
    if (!(sattr & 0x80)) raise(Vector.SS, newSs & 0xfffc);
    loadCodeSegment(c, cs, d, rpl);
    setSegmentCache(c, SegReg.SS, newSs, sd);
    if (size === 4 || c.stackBits === 32) c.r[4] = size === 2 ? newEsp & 0xffff : newEsp;
    else c.r16[8] = newEsp;
    if (!isIret) c.adjustSp(extraPop);
    nullifyInaccessibleSegments(c);
  }
  if (isIret) {
    // The mask uses the CPL before the return (SDM IRET: IOPL only at CPL 0, IF at CPL <= IOPL).
    let m = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | DF | OF | NT | RF;
    if (size === 4) m |= 0x40000 | 0x200000 | 0x80000 | 0x100000;
    if (iretFrom.cpl === 0) m |= 0x3000;
    if (iretFrom.cpl <= iretFrom.iopl) m |= IF;
    c.eflags = (c.eflags & ~m) | (flags & m);
  }
  c.nextEip = target;
}

function iret(c: Cpu, d: DecodedInsn): void {
  const size = stackOperandSize(d);
  if (c.protectedMode && !c.v86) {
    if (c.lf.flags & NT) {
      // Return to the task whose selector is the back link of the current TSS (SDM 7.3).
      taskSwitchThroughGate(c, c.readSystem16(c.segBase[SegReg.TR]!), 'iret', c.nextEip, -1);
      return;
    }
    const flags = c.peek(size, 2 * size);
    if (size === 4 && (flags & VM) && c.cpl === 0) {
      returnToV86(c);
      return;
    }
  }
  farReturn(c, size, 0, { cpl: c.cpl, iopl: c.iopl });
}

/** IRET from ring 0 to virtual-8086 mode (SDM IRET, "RETURN-TO-VIRTUAL-8086-MODE"). */
function returnToV86(c: Cpu): void {
  const v = (i: number): number => c.peek(4, i * 4);
  const eip = v(0), cs = v(1), flags = v(2), esp = v(3), ss = v(4);
  const es = v(5), ds = v(6), fs = v(7), gs = v(8);
  c.eflags = flags | VM;
  c.cpl = 3;
  for (const [s, sel] of [[SegReg.CS, cs], [SegReg.SS, ss], [SegReg.ES, es], [SegReg.DS, ds], [SegReg.FS, fs], [SegReg.GS, gs]] as const) {
    loadSegmentRealMode(c, s, sel & 0xffff);
  }
  c.r[4] = esp;
  c.nextEip = eip & 0xffff;
}

export function portAllowed(c: Cpu, port: number, size: number): void {
  if (c.ioPrivileged) return;
  // I/O permission bitmap in the 32-bit TSS (SDM Vol. 1 18.5.2).
  const trBase = c.segBase[SegReg.TR]!, trLimit = c.segLimit[SegReg.TR]! >>> 0;
  const type = c.segAttr[SegReg.TR]! & 0xf;
  if ((type !== 0xb && type !== 0x9) || trLimit < 103) raise(Vector.GP, 0);
  const mapBase = c.readSystem16(trBase + 102);
  const at = mapBase + (port >> 3);
  if (at + 1 > trLimit) raise(Vector.GP, 0);
  const bits = c.readSystem16(trBase + at);
  const want = ((1 << size) - 1) << (port & 7);
  if (bits & want) raise(Vector.GP, 0);
}

export function portIn(c: Cpu, port: number, size: 1 | 2 | 4): number {
  portAllowed(c, port, size);
  return c.io.portRead(port & 0xffff, size);
}
export function portOut(c: Cpu, port: number, size: 1 | 2 | 4, value: number): void {
  portAllowed(c, port, size);
  c.io.portWrite(port & 0xffff, size, value);
}

function ioSize(d: DecodedInsn): 1 | 2 | 4 {
  const k = d.form.operands.find((x) => x === 'AL' || x === 'eAX')!;
  return k === 'AL' ? 1 : d.opsize === 16 ? 2 : 4;
}

function counterReg(d: DecodedInsn): Width {
  return d.adsize === 32 ? 32 : 16;
}

function loopExecutor(kind: 'LOOP' | 'LOOPE' | 'LOOPNE') {
  return (c: Cpu, d: DecodedInsn): void => {
    const w = counterReg(d);
    const count = (getReg(c, 1, w) - 1) & (w === 32 ? -1 : 0xffff);
    if (w === 32) c.r[1] = count; else c.r16[2] = count;
    let taken = count !== 0;
    if (kind === 'LOOPE') taken &&= c.lf.zf();
    if (kind === 'LOOPNE') taken &&= !c.lf.zf();
    if (taken) jumpTo(c, relativeTarget(c, d));
  };
}

/** A near jump: the target must lie within CS (#GP(0)). */
function jumpTo(c: Cpu, target: number): void {
  checkCodeLimit(c, target);
  c.nextEip = target;
}

function softwareInterrupt(c: Cpu, vector: number): void {
  if (c.v86 && c.iopl < 3) raise(Vector.GP, 0);
  c.deliverEventFromInstruction(vector);
}

export const CONTROL: ExecutorFamily = {
  JMP: (c, d) => jumpTo(c, d.form.operands[0]![0] === 'J' ? relativeTarget(c, d) : d.opsize === 16 ? readE(c, d, 16) : readE(c, d, 32)),
  Jcc: (c, d) => { if (c.lf.cond(d.form.cc)) jumpTo(c, relativeTarget(c, d)); },
  JCXZ: (c, d) => { if (getReg(c, 1, counterReg(d)) === 0) jumpTo(c, relativeTarget(c, d)); },
  LOOP: loopExecutor('LOOP'),
  LOOPE: loopExecutor('LOOPE'),
  LOOPNE: loopExecutor('LOOPNE'),
  CALL: (c, d) => {
    const size = stackOperandSize(d);
    const target = d.form.operands[0]![0] === 'J' ? relativeTarget(c, d) : readE(c, d, d.opsize);
    checkCodeLimit(c, target);
    c.push(size, c.nextEip);
    c.nextEip = target;
  },
  RET: (c, d) => {
    const size = stackOperandSize(d);
    const target = c.peek(size);
    const t = size === 2 ? target & 0xffff : target;
    checkCodeLimit(c, t);
    c.adjustSp(size + (d.form.operands.length ? d.imm & 0xffff : 0));
    c.nextEip = t;
  },
  JMPF: (c, d) => { const [sel, off] = farPointerOperand(c, d); farTransfer(c, sel, off, false, stackOperandSize(d)); },
  CALLF: (c, d) => { const [sel, off] = farPointerOperand(c, d); farTransfer(c, sel, off, true, stackOperandSize(d)); },
  RETF: (c, d) => farReturn(c, stackOperandSize(d), d.form.operands.length ? d.imm & 0xffff : 0, null),
  IRET: iret,
  INT: (c, d) => softwareInterrupt(c, d.imm & 0xff),
  INT3: (c) => c.deliverEventFromInstruction(Vector.BP, true),
  INTO: (c) => { if (c.lf.materialize() & OF) c.deliverEventFromInstruction(Vector.OF, true); },
  BOUND: (c, d) => {
    const w = d.opsize as Width;
    const ea = effectiveAddress(c, d);
    const idx = signExtend(getReg(c, d.reg, w), w);
    const lo = signExtend(readMem(c, d.segment, ea, w), w), hi = signExtend(readMem(c, d.segment, ea + w / 8, w), w);
    if (idx < lo || idx > hi) raise(Vector.BR);
  },
  HLT: (c) => {
    if (c.protectedMode && (c.cpl !== 0 || c.v86)) raise(Vector.GP, 0);
    c.halted = true;
  },
  NOP: () => {},
  PAUSE: () => {},
  UD2: () => raise(Vector.UD),
  CLC: (c) => { c.lf.settle(); c.lf.flags &= ~CF; },
  STC: (c) => { c.lf.settle(); c.lf.flags |= CF; },
  CMC: (c) => { c.lf.settle(); c.lf.flags ^= CF; },
  CLD: (c) => { c.lf.flags &= ~DF; },
  STD: (c) => { c.lf.flags |= DF; },
  CLI: (c) => {
    if (c.protectedMode && (c.v86 ? c.iopl < 3 : c.cpl > c.iopl)) raise(Vector.GP, 0);
    c.lf.flags &= ~IF;
  },
  STI: (c) => {
    if (c.protectedMode && (c.v86 ? c.iopl < 3 : c.cpl > c.iopl)) raise(Vector.GP, 0);
    // Interrupts stay blocked until after the next instruction when STI sets IF (SDM STI).
    if (!(c.lf.flags & IF)) c.interruptShadow = true;
    c.lf.flags |= IF;
  },
  IN: (c, d) => {
    const size = ioSize(d);
    const port = d.form.operands[1] === 'DX' ? c.r16[4]! : d.imm & 0xff;
    const v = portIn(c, port, size);
    if (size === 1) c.r8[0] = v; else if (size === 2) c.r16[0] = v; else c.r[0] = v;
  },
  OUT: (c, d) => {
    const size = ioSize(d);
    const port = d.form.operands[0] === 'DX' ? c.r16[4]! : d.imm & 0xff;
    portOut(c, port, size, size === 1 ? c.r8[0]! : size === 2 ? c.r16[0]! : c.r[0]!);
  },
};

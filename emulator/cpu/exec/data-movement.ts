/**
 * Data movement: MOV (general, Sreg, CRn, DRn, moffs), MOVZX/MOVSX, XCHG, XADD, CMPXCHG,
 * CMPXCHG8B, BSWAP, LEA, PUSH/POP and their A/F variants, LAHF/SAHF, CBW/CWD families, CMOVcc,
 * SETcc, LDS/LES/LFS/LGS/LSS, XLATB, ENTER/LEAVE.
 */
import type { DecodedInsn } from '../../isa/decoder.js';
import type { Cpu } from '../cpu.js';
import { raise, Vector } from '../faults.js';
import { loadDataSegment, SegReg } from '../segments.js';
import { alu } from './arithmetic.js';
import type { ExecutorFamily } from './index.js';
import {
  effectiveAddress, getReg, mask, modifyE, readE, readMem, readOperand, setReg, signExtend,
  stackOperandSize, widthOf, writeE, writeOperand, type Width,
} from './operands.js';
import { readControlRegister, readDebugRegister, writeControlRegister, writeDebugRegister } from './system-registers.js';

/** Loads a segment register from MOV/POP; CS is not loadable this way (#UD). */
export function loadSegmentFromInstruction(c: Cpu, s: number, selector: number): void {
  if (s === SegReg.CS || s > SegReg.GS) raise(Vector.UD);
  loadDataSegment(c, s, selector);
  // MOV SS / POP SS inhibit interrupts (and debug traps) until after the next instruction.
  if (s === SegReg.SS) { c.interruptShadow = true; c.movSsShadow = true; }
}

function mov(c: Cpu, d: DecodedInsn): void {
  const [dk, sk] = d.form.operands as [string, string];
  if (dk === 'Sw') {
    loadSegmentFromInstruction(c, d.reg, readE(c, d, 16));
    return;
  }
  if (sk === 'Sw') {
    if (d.reg > SegReg.GS) raise(Vector.UD);
    const sel = c.segSel[d.reg]!;
    if (dk === 'Mw') writeE(c, d, 16, sel);
    else setReg(c, d.rm, d.opsize, sel); // 32-bit destination: upper half cleared (P6 and later)
    return;
  }
  if (dk === 'Cd') { writeControlRegister(c, d.reg, c.r[d.rm]!); return; }
  if (sk === 'Cd') { c.r[d.rm] = readControlRegister(c, d.reg); return; }
  if (dk === 'Dd') { writeDebugRegister(c, d.reg, c.r[d.rm]!); return; }
  if (sk === 'Dd') { c.r[d.rm] = readDebugRegister(c, d.reg); return; }
  const w = widthOf(d, dk);
  writeOperand(c, d, dk, w, readOperand(c, d, sk, w));
}

function extend(signed: boolean) {
  return (c: Cpu, d: DecodedInsn): void => {
    const from = widthOf(d, d.form.operands[1]!);
    const v = readE(c, d, from);
    setReg(c, d.reg, d.opsize, signed ? signExtend(v, from) : v);
  };
}

function xchg(c: Cpu, d: DecodedInsn): void {
  const [ak, bk] = d.form.operands as [string, string];
  const w = widthOf(d, ak);
  const a = readOperand(c, d, ak, w);
  if (bk[0] === 'E') {
    // Register side effects only after the memory store succeeded (a fault restarts cleanly).
    let old = 0;
    modifyE(c, d, w, (v) => { old = v; return a; });
    writeOperand(c, d, ak, w, old);
    return;
  }
  const b = readOperand(c, d, bk, w);
  writeOperand(c, d, ak, w, b);
  writeOperand(c, d, bk, w, a);
}

function xadd(c: Cpu, d: DecodedInsn): void {
  const w = widthOf(d, d.form.operands[0]!);
  const src = getReg(c, d.reg, w);
  let dst = 0;
  modifyE(c, d, w, (v) => { dst = v; return alu(c, 'ADD', w, v, src); });
  // SDM XADD: TEMP <- SRC + DEST; SRC <- DEST; DEST <- TEMP (so with one register, the sum wins).
  const sum = (dst + src) & mask(w);
  setReg(c, d.reg, w, dst);
  if (!d.hasMemory) setReg(c, d.rm, w, sum);
}

function cmpxchg(c: Cpu, d: DecodedInsn): void {
  const w = widthOf(d, d.form.operands[0]!);
  const acc = getReg(c, 0, w), src = getReg(c, d.reg, w);
  // The destination is always written (with its old value on failure), as the processor does.
  let equal = false, dst = 0;
  modifyE(c, d, w, (v) => {
    dst = v;
    alu(c, 'CMP', w, acc, v);
    equal = c.lf.zf();
    return equal ? src : v;
  });
  if (!equal) setReg(c, 0, w, dst);
}

function cmpxchg8b(c: Cpu, d: DecodedInsn): void {
  const ea = effectiveAddress(c, d);
  const lo = c.read32(d.segment, ea), hi = c.read32(d.segment, ea + 4);
  c.lf.settle();
  if (lo === c.r[0] && hi === c.r[2]) {
    c.write32(d.segment, ea, c.r[3]!); c.write32(d.segment, ea + 4, c.r[1]!);
    c.lf.flags |= 0x40;
  } else {
    c.write32(d.segment, ea, lo); c.write32(d.segment, ea + 4, hi);
    c.r[0] = lo; c.r[2] = hi;
    c.lf.flags &= ~0x40;
  }
}

function push(c: Cpu, d: DecodedInsn): void {
  const k = d.form.operands[0]!;
  const size = stackOperandSize(d);
  let v: number;
  if (k.length === 2 && 'ECSDFG'.includes(k[0]!) && k[1] === 'S') {
    v = c.segSel[['ES', 'CS', 'SS', 'DS', 'FS', 'GS'].indexOf(k)]!;
    // A 32-bit push of a segment register writes only the low word on P6 and later.
    if (size === 4) {
      const sp = (c.r[4]! - 4) | 0;
      const off = c.stackBits === 32 ? sp : sp & 0xffff;
      c.write16(SegReg.SS, off, v);
      c.adjustSp(-4);
      return;
    }
  } else if (k === 'Ibs' || k === 'Iz') v = d.imm;
  else v = readOperand(c, d, k, (size * 8) as Width);
  // PUSH ESP pushes the value before the decrement (SDM PUSH).
  c.push(size, v);
}

function pop(c: Cpu, d: DecodedInsn): void {
  const k = d.form.operands[0]!;
  const size = stackOperandSize(d);
  const v = c.peek(size);
  const seg = ['ES', 'CS', 'SS', 'DS', 'FS', 'GS'].indexOf(k);
  if (seg >= 0) {
    loadSegmentFromInstruction(c, seg, v & 0xffff);
    c.adjustSp(size);
    return;
  }
  if (k[0] === 'E' && d.hasMemory) {
    // POP r/m with ESP in the address uses ESP after the increment (SDM POP).
    c.adjustSp(size);
    try {
      writeE(c, d, (size * 8) as Width, v);
    } catch (e) {
      c.adjustSp(-size);
      throw e;
    }
    return;
  }
  c.adjustSp(size);
  writeOperand(c, d, k, (size * 8) as Width, v);
}

function pusha(c: Cpu, d: DecodedInsn): void {
  const size = stackOperandSize(d);
  const w = (size * 8) as Width;
  const sp = getReg(c, 4, w);
  const savedEsp = c.r[4]!;
  try {
    for (let i = 0; i < 8; i++) c.push(size, i === 4 ? sp : getReg(c, i, w));
  } catch (e) {
    c.r[4] = savedEsp;
    throw e;
  }
}

function popa(c: Cpu, d: DecodedInsn): void {
  const size = stackOperandSize(d);
  const w = (size * 8) as Width;
  const values: number[] = [];
  for (let i = 0; i < 8; i++) values.push(c.peek(size, i * size));
  for (let i = 0; i < 8; i++) if (i !== 3) setReg(c, 7 - i, w, values[i]!);
  c.adjustSp(8 * size);
}

function pushf(c: Cpu, d: DecodedInsn): void {
  if (c.v86 && c.iopl < 3) raise(Vector.GP, 0);
  const size = stackOperandSize(d);
  // VM and RF are pushed as 0.
  c.push(size, c.eflags & (size === 4 ? 0x00fcffff : 0xffff));
}

function popf(c: Cpu, d: DecodedInsn): void {
  if (c.v86 && c.iopl < 3) raise(Vector.GP, 0);
  const size = stackOperandSize(d);
  const v = c.pop(size);
  const m = c.writableFlagsMask(size);
  c.eflags = (c.eflags & ~m) | (v & m);
}

function loadFarPointer(seg: SegReg) {
  return (c: Cpu, d: DecodedInsn): void => {
    const ea = effectiveAddress(c, d);
    const w = d.opsize as Width;
    const off = readMem(c, d.segment, ea, w);
    const sel = c.read16(d.segment, ea + w / 8);
    loadSegmentFromInstruction(c, seg, sel);
    setReg(c, d.reg, w, off);
  };
}

function enter(c: Cpu, d: DecodedInsn): void {
  const size = stackOperandSize(d);
  const frameSize = d.imm & 0xffff, level = d.imm2 & 31;
  const w = (size * 8) as Width;
  const savedEsp = c.r[4]!, savedEbp = c.r[5]!;
  try {
    c.push(size, getReg(c, 5, w));
    const frameTemp = getReg(c, 4, c.stackBits);
    let bp = getReg(c, 5, c.stackBits);
    for (let i = 1; i < level; i++) {
      bp = c.stackBits === 32 ? (bp - size) | 0 : (bp - size) & 0xffff;
      c.push(size, size === 4 ? c.read32(SegReg.SS, bp) : c.read16(SegReg.SS, bp));
    }
    if (level > 0) c.push(size, frameTemp);
    setReg(c, 5, w, frameTemp);
    c.adjustSp(-frameSize);
    // The new stack top must be writable (the SDM's final stack check).
    if (frameSize) c.linear(SegReg.SS, getReg(c, 4, c.stackBits), 1);
  } catch (e) {
    c.r[4] = savedEsp; c.r[5] = savedEbp;
    throw e;
  }
}

function leave(c: Cpu, d: DecodedInsn): void {
  const size = stackOperandSize(d);
  const savedEsp = c.r[4]!;
  if (c.stackBits === 32) c.r[4] = c.r[5]!; else c.r16[8] = c.r16[10]!;
  try {
    setReg(c, 5, (size * 8) as Width, c.pop(size));
  } catch (e) {
    c.r[4] = savedEsp;
    throw e;
  }
}

export const DATA_MOVEMENT: ExecutorFamily = {
  MOV: mov,
  MOVZX: extend(false),
  MOVSX: extend(true),
  XCHG: xchg,
  XADD: xadd,
  CMPXCHG: cmpxchg,
  CMPXCHG8B: cmpxchg8b,
  BSWAP: (c, d) => {
    const v = c.r[d.opcodeReg]!;
    c.r[d.opcodeReg] = d.opsize === 32
      ? ((v >>> 24) | ((v >>> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24))
      : 0; // BSWAP with a 16-bit operand is undefined; the P6 family clears the register's low word
  },
  LEA: (c, d) => setReg(c, d.reg, d.opsize, effectiveAddress(c, d)),
  PUSH: push,
  POP: pop,
  PUSHA: pusha,
  POPA: popa,
  PUSHF: pushf,
  POPF: popf,
  LAHF: (c) => { c.r8[1] = (c.eflags & 0xd5) | 2; },
  SAHF: (c) => { c.lf.load((c.eflags & ~0xd5) | (c.r8[1]! & 0xd5)); },
  CBW: (c, d) => {
    if (d.opsize === 16) c.r16[0] = signExtend(c.r8[0]!, 8);
    else c.r[0] = signExtend(c.r16[0]!, 16);
  },
  CWD: (c, d) => {
    if (d.opsize === 16) c.r16[4] = (c.r16[0]! & 0x8000) ? 0xffff : 0;
    else c.r[2] = c.r[0]! >> 31;
  },
  CMOVcc: (c, d) => {
    const v = readE(c, d, d.opsize);
    // The destination is written only when the condition holds (no zero-extension in 32-bit mode).
    if (c.lf.cond(d.form.cc)) setReg(c, d.reg, d.opsize, v);
  },
  SETcc: (c, d) => writeE(c, d, 8, c.lf.cond(d.form.cc) ? 1 : 0),
  LES: loadFarPointer(SegReg.ES),
  LDS: loadFarPointer(SegReg.DS),
  LSS: loadFarPointer(SegReg.SS),
  LFS: loadFarPointer(SegReg.FS),
  LGS: loadFarPointer(SegReg.GS),
  XLATB: (c, d) => {
    const base = d.adsize === 32 ? c.r[3]! : c.r16[6]!;
    const off = d.adsize === 32 ? (base + c.r8[0]!) | 0 : (base + c.r8[0]!) & 0xffff;
    c.r8[0] = c.read8(d.segOverride >= 0 ? d.segOverride : SegReg.DS, off);
  },
  ENTER: enter,
  LEAVE: leave,
};

/**
 * String instructions: MOVS CMPS STOS LODS SCAS INS OUTS in byte, word and dword forms, with
 * REP / REPE / REPNE (SDM Vol. 2B "REP/REPE/REPZ/REPNE/REPNZ" and each instruction's page).
 *
 * - The address size picks CX/SI/DI or ECX/ESI/EDI; DF picks the direction.
 * - A segment override applies to the source DS:(E)SI only; ES:(E)DI is never overridable.
 * - Registers are updated after every element, so a fault in the middle of a REP leaves (E)CX,
 *   (E)SI and (E)DI describing the progress and EIP at the instruction: delivering the fault and
 *   returning restarts the instruction where it stopped (SDM 7.3.9.3 on interruptible REP).
 * - A REP runs up to REP_CHUNK elements per execution. When more remain, EIP stays at the
 *   instruction and the chunk is not counted as a retired instruction (icount counts instructions:
 *   the whole REP counts once); interrupts are taken between chunks as hardware takes them between
 *   iterations.
 */
import type { DecodedInsn } from '../../isa/decoder.js';
import type { Cpu } from '../cpu.js';
import { DF } from '../flags.js';
import { SegReg } from '../segments.js';
import { alu } from './arithmetic.js';
import { portIn, portOut } from './control.js';
import type { ExecutorFamily } from './index.js';
import { getReg, readMem, setReg, writeMem, type Width } from './operands.js';

/** Elements one execution of a REP string instruction may process before yielding. */
export const REP_CHUNK = 1 << 16;

const SI = 6, DI = 7, CX = 1, AX = 0;

/** Per-instruction facts computed once per execution. */
interface StringContext {
  readonly w: Width;
  /** Bytes per element, signed by DF. */
  readonly step: number;
  readonly a16: boolean;
  /** Segment of the source (E)SI operand. */
  readonly srcSeg: number;
}

function contextOf(c: Cpu, d: DecodedInsn): StringContext {
  const w: Width = d.form.mnemonic.endsWith('B') ? 8 : d.opsize;
  const bytes = w / 8;
  return {
    w, step: c.lf.flags & DF ? -bytes : bytes, a16: d.adsize === 16,
    srcSeg: d.segOverride >= 0 ? d.segOverride : SegReg.DS,
  };
}

function index(c: Cpu, x: StringContext, reg: number): number {
  return x.a16 ? c.r16[reg * 2]! : c.r[reg]!;
}
function advance(c: Cpu, x: StringContext, reg: number): void {
  if (x.a16) c.r16[reg * 2] = (c.r16[reg * 2]! + x.step) & 0xffff;
  else c.r[reg] = (c.r[reg]! + x.step) | 0;
}

/**
 * Checks that ES:(E)DI can be written without writing it (INS reads the port only once the
 * destination is known to be writable, so a faulting INS does not consume device input).
 */
function probeWrite(c: Cpu, x: StringContext): void {
  const size = x.w / 8;
  const lin = c.linearWrite(SegReg.ES, index(c, x, DI), size);
  c.probeWriteLin(lin, size);
}

/** One element; returns nothing. CMPS/SCAS leave their result in the flags. */
type Element = (c: Cpu, x: StringContext) => void;

const ELEMENTS: Readonly<Record<string, Element>> = {
  MOVS: (c, x) => {
    const v = readMem(c, x.srcSeg, index(c, x, SI), x.w);
    writeMem(c, SegReg.ES, index(c, x, DI), x.w, v);
    advance(c, x, SI); advance(c, x, DI);
  },
  CMPS: (c, x) => {
    const a = readMem(c, x.srcSeg, index(c, x, SI), x.w);
    const b = readMem(c, SegReg.ES, index(c, x, DI), x.w);
    alu(c, 'CMP', x.w, a, b);
    advance(c, x, SI); advance(c, x, DI);
  },
  STOS: (c, x) => {
    writeMem(c, SegReg.ES, index(c, x, DI), x.w, getReg(c, AX, x.w));
    advance(c, x, DI);
  },
  LODS: (c, x) => {
    setReg(c, AX, x.w, readMem(c, x.srcSeg, index(c, x, SI), x.w));
    advance(c, x, SI);
  },
  SCAS: (c, x) => {
    const b = readMem(c, SegReg.ES, index(c, x, DI), x.w);
    alu(c, 'CMP', x.w, getReg(c, AX, x.w), b);
    advance(c, x, DI);
  },
  INS: (c, x) => {
    probeWrite(c, x);
    const v = portIn(c, c.r16[4]!, (x.w / 8) as 1 | 2 | 4);
    writeMem(c, SegReg.ES, index(c, x, DI), x.w, v);
    advance(c, x, DI);
  },
  OUTS: (c, x) => {
    const v = readMem(c, x.srcSeg, index(c, x, SI), x.w);
    portOut(c, c.r16[4]!, (x.w / 8) as 1 | 2 | 4, v);
    advance(c, x, SI);
  },
};

function stringExecutor(op: string) {
  const element = ELEMENTS[op]!;
  const testsZf = op === 'CMPS' || op === 'SCAS';
  return (c: Cpu, d: DecodedInsn): void => {
    const x = contextOf(c, d);
    if (d.repPrefix === 0) {
      element(c, x);
      return;
    }
    // F3 is REP (REPE for CMPS/SCAS: stop when ZF = 0); F2 is REPNE (stop when ZF = 1), and acts
    // as REP on the instructions that do not test ZF.
    const stopOnZf = d.repPrefix === 0xf2;
    let count = x.a16 ? c.r16[CX * 2]! : c.r[CX]! >>> 0;
    for (let done = 0; count !== 0; done++) {
      if (done === REP_CHUNK) {
        c.nextEip = c.eip;
        c.icount--;
        return;
      }
      element(c, x);
      count--;
      if (x.a16) c.r16[CX * 2] = count; else c.r[CX] = count;
      if (testsZf && c.lf.zf() === stopOnZf) return;
    }
  };
}

export const STRINGS: ExecutorFamily = Object.fromEntries(
  Object.keys(ELEMENTS).map((op) => [op, stringExecutor(op)]),
);

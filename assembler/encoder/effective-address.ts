/**
 * Encodes a memory operand as ModRM [+ SIB] [+ displacement] (SDM Vol. 2A, 2.1.5, tables 2-1
 * to 2-3), choosing what NASM chooses: no displacement when it is a known zero (except with
 * EBP/BP as base, which needs a disp8 of 0), a disp8 when a known plain number fits in a signed
 * byte, else a full displacement; labels always take the full size. `[eax*2]` becomes
 * `[eax+eax]` (NASM's split) unless `nosplit`; `[ebx+esp]` swaps so ESP is the base.
 */
import { LineError } from '../diagnostics.js';
import type { Value } from '../evaluate.js';
import type { Register } from '../registers.js';
import type { MemorySyntax } from '../statement.js';

export interface EncodedAddress {
  /** ModRM (with reg field 0; the caller ORs in reg<<3), then SIB and displacement bytes. */
  readonly bytes: number[];
  /** Address size the operand needs (16 or 32). */
  readonly addressSize: 16 | 32;
}

/** The address size an operand uses: from its registers, its `[word x]`/`[dword x]`, or the default. */
export function addressSizeOf(mem: MemorySyntax, defaultSize: 16 | 32): 16 | 32 {
  const first = mem.terms[0];
  if (first) {
    if (first.reg.cls === 'r16') return 16;
    if (first.reg.cls === 'r32') return 32;
    throw new LineError(`register '${first.reg.name}' cannot address memory`, mem.col);
  }
  if (mem.dispSize === 16 || mem.dispSize === 32) return mem.dispSize;
  return defaultSize;
}

const fitsSigned8 = (n: number): boolean => n >= -128 && n <= 127;

/** Appends the low `bytes` bytes of `n`, little-endian. */
export function pushLE(out: number[], n: bigint, bytes: number): void {
  for (let k = 0; k < bytes; k++) out.push(Number((n >> BigInt(8 * k)) & 0xffn));
}

/** How many displacement bytes a value needs: 0, 1 or full (the mode's size). */
function dispBytes(disp: Value | null, mem: MemorySyntax, full: 2 | 4, zeroAllowed: boolean): 0 | 1 | 2 | 4 {
  if (mem.dispSize === 8) return 1;
  if (mem.dispSize === full * 8) return full;
  if (disp === null) return zeroAllowed ? 0 : 1;
  if (disp.unknown || disp.section !== null) return full;
  const n = full === 4 ? Number(BigInt.asIntN(32, disp.n)) : Number(BigInt.asIntN(16, disp.n));
  if (n === 0 && zeroAllowed) return 0;
  return fitsSigned8(n) ? 1 : full;
}

const modFor = (bytes: 0 | 1 | 2 | 4): number => (bytes === 0 ? 0 : bytes === 1 ? 1 : 2);

export function encodeAddress(mem: MemorySyntax, disp: Value | null, defaultSize: 16 | 32, warn: (m: string) => void): EncodedAddress {
  const addressSize = addressSizeOf(mem, defaultSize);
  for (const t of mem.terms) {
    if (t.reg.cls !== (addressSize === 16 ? 'r16' : 'r32')) throw new LineError('cannot mix 16-bit and 32-bit address registers', mem.col);
  }
  const out: number[] = [];
  const n = disp?.n ?? 0n;
  const checkDisp8 = (bytes: number): void => {
    if (bytes === 1 && disp && !disp.unknown) {
      const v = addressSize === 32 ? Number(BigInt.asIntN(32, disp.n)) : Number(BigInt.asIntN(16, disp.n));
      if (!fitsSigned8(v)) warn('byte data exceeds bounds');
    }
  };
  if (addressSize === 16) {
    const names = mem.terms.map((t) => {
      if (t.scale !== 1) throw new LineError('16-bit addressing cannot scale a register', mem.col);
      return t.reg.name;
    }).sort().join('+');
    const RM16: Readonly<Record<string, number>> = {
      'bx+si': 0, 'bx+di': 1, 'bp+si': 2, 'bp+di': 3, si: 4, di: 5, bp: 6, bx: 7,
    };
    if (names === '') {
      out.push(0x06);
      pushLE(out, n, 2);
      return { bytes: out, addressSize };
    }
    const rm = RM16[names];
    if (rm === undefined) throw new LineError(`invalid 16-bit effective address [${names}]`, mem.col);
    const size = dispBytes(disp, mem, 2, rm !== 6);
    if (size === 4) throw new LineError('32-bit displacement in a 16-bit address', mem.col);
    checkDisp8(size);
    out.push((modFor(size) << 6) | rm);
    pushLE(out, n, size);
    return { bytes: out, addressSize };
  }

  // 32-bit: choose base, index and scale.
  let base: Register | null = null;
  let index: Register | null = null;
  let scale = 1;
  const terms = mem.terms;
  if (terms.length > 2) throw new LineError('too many registers in effective address', mem.col);
  if (terms.length === 1) {
    const t = terms[0]!;
    if (t.scale === 1) base = t.reg;
    else if (!mem.nosplit && (t.scale === 2 || t.scale === 3 || t.scale === 5 || t.scale === 9)) {
      base = t.reg;
      index = t.reg;
      scale = t.scale - 1;
    } else {
      index = t.reg;
      scale = t.scale;
    }
  } else if (terms.length === 2) {
    const [a, b] = terms as [typeof terms[0], typeof terms[0]];
    if (a.scale === 1 && b.scale === 1) {
      base = a.reg;
      index = b.reg;
      if (index.num === 4) [base, index] = [index, base];
    } else if (a.scale === 1) {
      base = a.reg; index = b.reg; scale = b.scale;
    } else if (b.scale === 1) {
      base = b.reg; index = a.reg; scale = a.scale;
    } else throw new LineError('only one register can be scaled', mem.col);
  }
  if (index && ![1, 2, 4, 8].includes(scale)) throw new LineError(`invalid scale ${scale}`, mem.col);
  if (index && index.num === 4) throw new LineError('esp cannot be an index register', mem.col);
  const ss = [1, 2, 4, 8].indexOf(scale);

  if (!base && !index) {
    out.push(0x05);
    pushLE(out, n, 4);
    return { bytes: out, addressSize };
  }
  if (!base) {
    out.push(0x04, (ss << 6) | (index!.num << 3) | 5);
    pushLE(out, n, 4);
    return { bytes: out, addressSize };
  }
  const size = dispBytes(disp, mem, 4, base.num !== 5);
  if (size === 2) throw new LineError('16-bit displacement in a 32-bit address', mem.col);
  checkDisp8(size);
  const mod = modFor(size);
  if (index || base.num === 4) {
    out.push((mod << 6) | 4, (ss << 6) | ((index ? index.num : 4) << 3) | base.num);
  } else {
    out.push((mod << 6) | base.num);
  }
  pushLE(out, n, size);
  return { bytes: out, addressSize };
}


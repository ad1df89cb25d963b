/**
 * Lazy arithmetic flags (STYLE.md: "lazy flags as one record"). Hot instructions record their
 * operation, operand size, operands and result; CF PF AF ZF SF OF are computed only when read.
 * `LazyFlags.materialize` is the one function that turns the record into EFLAGS bits.
 *
 * Model for flags the SDM leaves undefined (tests mask them): logic ops clear AF; shifts clear AF
 * and compute OF as for a 1-bit shift (SHL: MSB(result) ^ CF, SHR: MSB(operand), SAR: 0).
 */

export const CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, TF = 0x100, IF = 0x200, DF = 0x400,
  OF = 0x800, IOPL = 0x3000, NT = 0x4000, RF = 0x10000, VM = 0x20000, AC = 0x40000, VIF = 0x80000,
  VIP = 0x100000, ID = 0x200000;
export const ARITH_FLAGS = CF | PF | AF | ZF | SF | OF;

/** Lazy operations. The size is kept separately (8, 16 or 32). */
export const enum LazyOp {
  /** No pending lazy result: every flag is in `flags`. */
  NONE = 0,
  ADD, ADC, SUB, SBB, LOGIC, INC, DEC, NEG, SHL, SHR, SAR,
}

const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let b = i, p = 1;
  while (b) { p ^= b & 1; b >>= 1; }
  PARITY[i] = p ? PF : 0;
}

/** Which arithmetic flags each lazy op computes (the rest come from `flags`). */
const LAZY_MASK: readonly number[] = [
  0, ARITH_FLAGS, ARITH_FLAGS, ARITH_FLAGS, ARITH_FLAGS, ARITH_FLAGS, ARITH_FLAGS & ~CF,
  ARITH_FLAGS & ~CF, ARITH_FLAGS, ARITH_FLAGS, ARITH_FLAGS, ARITH_FLAGS,
];

const SIZE_MASK = (size: number): number => (size === 32 ? 0xffffffff : (1 << size) - 1);

export class LazyFlags {
  /** EFLAGS bits not covered by the pending lazy op (always includes bit 1, reserved as 1). */
  flags = 2;
  op: LazyOp = LazyOp.NONE;
  size = 32;
  /** Operands and result, masked to the size (32-bit values as int32). `b` is the count for shifts. */
  a = 0;
  b = 0;
  res = 0;
  /** Carry-in for ADC/SBB. */
  carryIn = 0;

  set(op: LazyOp, size: number, a: number, b: number, res: number): void {
    if (op === LazyOp.INC || op === LazyOp.DEC) this.flags = (this.flags & ~CF) | this.cf();
    this.op = op; this.size = size; this.a = a; this.b = b; this.res = res;
  }

  /**
   * INC/DEC when the compiled code knows the CF they keep (0 or 1: the previous instruction's,
   * computed from its operands), so the record before them need not be materialized, or even set.
   */
  setKeepingCarry(op: LazyOp, size: number, a: number, res: number, cf: number): void {
    this.flags = (this.flags & ~CF) | cf;
    this.op = op; this.size = size; this.a = a; this.b = 1; this.res = res;
  }

  /** Fixes every arithmetic flag into `flags` (after this, `op` is NONE). */
  settle(): void {
    if (this.op !== LazyOp.NONE) {
      this.flags = this.materialize();
      this.op = LazyOp.NONE;
    }
  }

  /** The whole EFLAGS value. */
  materialize(): number {
    const op = this.op;
    if (op === LazyOp.NONE) return this.flags;
    const lazy = LAZY_MASK[op]!;
    let f = this.flags & ~lazy;
    const size = this.size, mask = SIZE_MASK(size), res = this.res & mask;
    const signBit = size - 1;
    let cf = 0, of = 0, af = 0;
    const a = this.a, b = this.b;
    switch (op) {
      case LazyOp.ADD: case LazyOp.ADC: case LazyOp.INC:
        cf = op === LazyOp.ADC && this.carryIn ? +((res >>> 0) <= ((a & mask) >>> 0)) : +((res >>> 0) < ((a & mask) >>> 0));
        of = (((a ^ res) & (b ^ res)) >>> signBit) & 1;
        af = (a ^ b ^ res) & AF;
        break;
      case LazyOp.SUB: case LazyOp.SBB: case LazyOp.DEC: case LazyOp.NEG: {
        const ua = (a & mask) >>> 0, ub = (b & mask) >>> 0;
        cf = op === LazyOp.SBB && this.carryIn ? +(ua <= ub) : +(ua < ub);
        of = (((a ^ b) & (a ^ res)) >>> signBit) & 1;
        af = (a ^ b ^ res) & AF;
        break;
      }
      case LazyOp.LOGIC: break;
      case LazyOp.SHL: {
        const n = b;
        cf = n <= size ? ((a & mask) >>> (size - n)) & 1 : 0;
        of = ((res >>> signBit) & 1) ^ cf;
        break;
      }
      case LazyOp.SHR:
        cf = b <= size ? ((a & mask) >>> (b - 1)) & 1 : 0;
        of = ((a & mask) >>> signBit) & 1;
        break;
      case LazyOp.SAR: {
        const sa = size === 32 ? a | 0 : (a << (32 - size)) >> (32 - size);
        cf = (sa >> Math.min(b - 1, 31)) & 1;
        of = 0;
        break;
      }
    }
    f |= (lazy & CF ? cf : 0) | PARITY[res & 0xff]! | af | (res === 0 ? ZF : 0)
      | ((res >>> signBit) & 1 ? SF : 0) | (of ? OF : 0);
    return f;
  }

  /** CF alone (INC/DEC keep it, ADC/SBB and JB read it): computed without the other flags. */
  cf(): number {
    const op = this.op;
    if (op === LazyOp.NONE || !(LAZY_MASK[op]! & CF)) return this.flags & CF;
    const size = this.size, mask = SIZE_MASK(size), a = this.a, b = this.b;
    switch (op) {
      case LazyOp.ADD: case LazyOp.ADC: {
        const res = (this.res & mask) >>> 0, ua = (a & mask) >>> 0;
        return op === LazyOp.ADC && this.carryIn ? +(res <= ua) : +(res < ua);
      }
      case LazyOp.SUB: case LazyOp.SBB: case LazyOp.NEG: {
        const ua = (a & mask) >>> 0, ub = (b & mask) >>> 0;
        return op === LazyOp.SBB && this.carryIn ? +(ua <= ub) : +(ua < ub);
      }
      case LazyOp.LOGIC: return 0;
      default: return this.materialize() & CF; // the shifts
    }
  }
  zf(): boolean {
    if (this.op === LazyOp.NONE) return (this.flags & ZF) !== 0;
    return (this.res & SIZE_MASK(this.size)) === 0;
  }
  sf(): boolean {
    if (this.op === LazyOp.NONE) return (this.flags & SF) !== 0;
    return ((this.res >>> (this.size - 1)) & 1) === 1;
  }

  /** Evaluates condition code tttn (0-15), as Jcc/SETcc/CMOVcc do. */
  cond(cc: number): boolean {
    let r: boolean;
    switch (cc >> 1) {
      case 0: r = (this.materialize() & OF) !== 0; break;
      case 1: r = this.cf() !== 0; break;
      case 2: r = this.zf(); break;
      case 3: r = this.cf() !== 0 || this.zf(); break;
      case 4: r = this.sf(); break;
      case 5: r = (this.materialize() & PF) !== 0; break;
      case 6: { const f = this.materialize(); r = ((f & SF) !== 0) !== ((f & OF) !== 0); break; }
      default: { const f = this.materialize(); r = (f & ZF) !== 0 || ((f & SF) !== 0) !== ((f & OF) !== 0); }
    }
    return (cc & 1) ? !r : r;
  }

  private savedFlags = 2; private savedOp: LazyOp = LazyOp.NONE; private savedSize = 32;
  private savedA = 0; private savedB = 0; private savedRes = 0; private savedCarryIn = 0;

  /** Remembers the record, so an instruction whose final store faults can undo its flag update. */
  checkpoint(): void {
    this.savedFlags = this.flags; this.savedOp = this.op; this.savedSize = this.size;
    this.savedA = this.a; this.savedB = this.b; this.savedRes = this.res; this.savedCarryIn = this.carryIn;
  }
  rollback(): void {
    this.flags = this.savedFlags; this.op = this.savedOp; this.size = this.savedSize;
    this.a = this.savedA; this.b = this.savedB; this.res = this.savedRes; this.carryIn = this.savedCarryIn;
  }

  /** Replaces the arithmetic flags (and the rest of EFLAGS) with a full value. */
  load(eflags: number): void {
    this.flags = eflags | 2;
    this.op = LazyOp.NONE;
  }
}

export { PARITY };

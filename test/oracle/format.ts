/**
 * The oracle's one memory layout and its file formats, shared by the generator (generate.ts), the
 * runner on the real CPU (runner.c: same constants) and the replay test (test/cpu/oracle.test.ts).
 *
 * Everything a case touches lies below 64 KiB, so 16-bit addressing and 32-bit addressing reach the
 * same bytes. Linux lets a process map from 4 KiB up (vm.mmap_min_addr), natively and under
 * qemu-i386 alike.
 *
 *   0x1000 - 0x7FFF  code sled: INT3 (0xCC) everywhere except the instruction under test
 *   0x4000           the instruction under test
 *   0x8000 - 0x8FFF  data window: zero except the case's initial bytes; every change is recorded
 *
 * A case ends at the INT3 where control lands (fall-through or branch), or at the exception the
 * instruction raises. Selectors are Linux's 32-bit user ones: CS = 0x23 (GDT entry 4),
 * DS = ES = SS = 0x2B (entry 5), FS = 0, and GS = 0x2B as qemu-i386 starts a process.
 */
import { gunzipSync, gzipSync } from 'node:zlib';

export const SLED_BASE = 0x1000;
export const SLED_SIZE = 0x7000;
export const INSN_ADDRESS = 0x4000;
export const DATA_BASE = 0x8000;
export const DATA_SIZE = 0x1000;
export const USER_CS = 0x23;
export const USER_DS = 0x2b;

const CASE_MAGIC = 0x43565654; // "TVVC"
const RESULT_MAGIC = 0x52565654; // "TVVR"
const FIXTURE_MAGIC = 0x46565654; // "TVVF"

/** EFLAGS bits a case may set on entry: OF DF SF ZF AF PF CF. */
export const EFLAGS_INPUT = 0x0cd5;

/** Which real CPU ran a case: natively (x86-64, 64-bit mode) or qemu-i386 (TCG on the same host). */
export type OracleName = 'native' | 'qemu-i386';

export interface Chunk { at: number; bytes: number[] }

export interface Case {
  /** The table row (its source text), so fixtures survive reordering of the table. */
  form: string;
  /** The instruction's bytes as 32-bit code (what trapvisor runs). */
  code: number[];
  /** The bytes the oracle runs (64-bit code for 'native', with 0x67 before a memory operand). */
  oracleCode: number[];
  /** EAX ECX EDX EBX ESP EBP ESI EDI. */
  regs: number[];
  eflags: number;
  /** Initial bytes of the data window (offsets from DATA_BASE). */
  chunks: Chunk[];
  /** Flags to leave out of the comparison beyond the table's undefined flags (with the reason). */
  extraMask?: number;
}

export interface Result {
  /** Linux signal number the case ended with (SIGTRAP at the INT3 for a normal completion). */
  signal: number;
  /** The exception vector from the signal frame (native only; qemu-user leaves it unset). */
  trapno: number;
  /** siginfo si_code (tells a page fault from a #GP-style SI_KERNEL fault under qemu-user). */
  siCode: number;
  /** Error code from the signal frame. */
  err: number;
  eip: number;
  regs: number[];
  eflags: number;
  /** GS FS ES DS CS SS (qemu-i386 only; zero natively). */
  segs: number[];
  /** Changed bytes of the data window: [offset, new value]. */
  changes: [number, number][];
}

class Writer {
  private buf = Buffer.alloc(1 << 16);
  length = 0;
  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const b = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(b, 0, 0, this.length);
    this.buf = b;
  }
  u8(v: number): void { this.room(1); this.buf[this.length++] = v & 0xff; }
  u16(v: number): void { this.room(2); this.buf.writeUInt16LE(v & 0xffff, this.length); this.length += 2; }
  u32(v: number): void { this.room(4); this.buf.writeUInt32LE(v >>> 0, this.length); this.length += 4; }
  bytes(b: readonly number[] | Uint8Array): void { this.room(b.length); for (const x of b) this.buf[this.length++] = x & 0xff; }
  done(): Buffer { return this.buf.subarray(0, this.length); }
}

class Reader {
  at = 0;
  constructor(readonly buf: Buffer) {}
  u8(): number { return this.buf[this.at++]!; }
  u16(): number { const v = this.buf.readUInt16LE(this.at); this.at += 2; return v; }
  u32(): number { const v = this.buf.readUInt32LE(this.at); this.at += 4; return v; }
  bytes(n: number): number[] { const v = [...this.buf.subarray(this.at, this.at + n)]; this.at += n; return v; }
}

function writeCase(w: Writer, c: Case, code: readonly number[]): void {
  w.u8(code.length); w.u8(0); w.u16(c.chunks.length);
  for (const r of c.regs) w.u32(r);
  w.u32(c.eflags);
  w.bytes(code);
  for (const ch of c.chunks) { w.u16(ch.at); w.u16(ch.bytes.length); w.bytes(ch.bytes); }
}

function readCase(r: Reader): Omit<Case, 'form' | 'oracleCode'> {
  const codeLen = r.u8(); r.u8();
  const nChunks = r.u16();
  const regs: number[] = [];
  for (let i = 0; i < 8; i++) regs.push(r.u32());
  const eflags = r.u32();
  const code = r.bytes(codeLen);
  const chunks: Chunk[] = [];
  for (let i = 0; i < nChunks; i++) { const at = r.u16(); const n = r.u16(); chunks.push({ at, bytes: r.bytes(n) }); }
  return { code, regs, eflags, chunks };
}

function writeResult(w: Writer, x: Result): void {
  w.u8(x.signal); w.u8(x.trapno); w.u8(x.siCode); w.u8(0); w.u32(x.err); w.u32(x.eip);
  for (const v of x.regs) w.u32(v);
  w.u32(x.eflags);
  for (const s of x.segs) w.u16(s);
  w.u16(x.changes.length);
  for (const [at, v] of x.changes) { w.u16(at); w.u8(v); }
}

function readResult(r: Reader): Result {
  const signal = r.u8(), trapno = r.u8(), siCode = r.u8(); r.u8();
  const err = r.u32(), eip = r.u32();
  const regs: number[] = [];
  for (let i = 0; i < 8; i++) regs.push(r.u32());
  const eflags = r.u32();
  const segs: number[] = [];
  for (let i = 0; i < 6; i++) segs.push(r.u16());
  const n = r.u16();
  const changes: [number, number][] = [];
  for (let i = 0; i < n; i++) { const at = r.u16(); changes.push([at, r.u8()]); }
  return { signal, trapno, siCode, err, eip, regs, eflags, segs, changes };
}

/** The runner's input file. */
export function encodeCaseFile(cases: readonly Case[]): Buffer {
  const w = new Writer();
  w.u32(CASE_MAGIC); w.u32(cases.length);
  for (const c of cases) writeCase(w, c, c.oracleCode);
  return w.done();
}

/** The runner's output file. */
export function decodeResultFile(buf: Buffer): Result[] {
  const r = new Reader(buf);
  if (r.u32() !== RESULT_MAGIC) throw new Error('oracle: bad result file');
  const n = r.u32();
  const out: Result[] = [];
  for (let i = 0; i < n; i++) out.push(readResult(r));
  return out;
}

export interface FixtureHeader {
  oracle: OracleName;
  /** What ran it: CPU model name (and qemu version for qemu-i386). */
  machine: string;
  /** Notes recorded with the fixture (which instructions, documented differences). */
  notes: string[];
  forms: string[];
  count: number;
}

export interface Fixture { header: FixtureHeader; cases: (Omit<Case, 'oracleCode'> & { result: Result })[] }

/** A fixture file: gzip of magic, JSON header length and text, then (case, result) records. */
export function encodeFixture(header: Omit<FixtureHeader, 'forms' | 'count'>, cases: readonly Case[], results: readonly Result[]): Buffer {
  const forms = [...new Set(cases.map((c) => c.form))];
  const index = new Map(forms.map((f, i) => [f, i]));
  const json = Buffer.from(JSON.stringify({ ...header, forms, count: cases.length }));
  const w = new Writer();
  w.u32(FIXTURE_MAGIC); w.u32(json.length); w.bytes(json);
  cases.forEach((c, i) => {
    w.u16(index.get(c.form)!);
    w.u32(c.extraMask ?? 0);
    writeCase(w, c, c.code);
    // Registers and flags as XOR with the inputs: mostly zero, so they compress to almost nothing.
    const x = results[i]!;
    writeResult(w, { ...x, regs: x.regs.map((v, r) => (v ^ c.regs[r]!) >>> 0), eflags: (x.eflags ^ c.eflags) >>> 0 });
  });
  return gzipSync(w.done(), { level: 9 });
}

export function decodeFixture(gz: Buffer): Fixture {
  const r = new Reader(gunzipSync(gz));
  if (r.u32() !== FIXTURE_MAGIC) throw new Error('oracle: bad fixture file');
  const len = r.u32();
  const header = JSON.parse(r.buf.subarray(r.at, r.at + len).toString()) as FixtureHeader;
  r.at += len;
  const cases: Fixture['cases'] = [];
  for (let i = 0; i < header.count; i++) {
    const form = header.forms[r.u16()]!;
    const extraMask = r.u32();
    const c = readCase(r);
    const x = readResult(r);
    x.regs = x.regs.map((v, i) => (v ^ c.regs[i]!) >>> 0);
    x.eflags = (x.eflags ^ c.eflags) >>> 0;
    cases.push({ form, ...c, extraMask, result: x });
  }
  return { header, cases };
}

/**
 * Sections of a flat binary, laid out as NASM's `bin` format does: `.text` first at the origin,
 * then the other progbits sections in the order they were first named, then the nobits sections
 * (`.bss`); each starts at the next multiple of its alignment (4 unless `align=` or a larger
 * `align` directive inside raised it). Gaps between progbits sections are zero in the file;
 * nobits sections are not in the file at all.
 */

/** A growable byte array. */
export class ByteBuffer {
  private data = new Uint8Array(256);
  length = 0;

  private reserve(extra: number): void {
    if (this.length + extra <= this.data.length) return;
    let size = this.data.length * 2;
    while (size < this.length + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.data.subarray(0, this.length));
    this.data = next;
  }

  push(bytes: ArrayLike<number>): void {
    this.reserve(bytes.length);
    this.data.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** Appends `count` copies of `bytes`. */
  repeat(bytes: ArrayLike<number>, count: number): void {
    if (bytes.length === 0 || count <= 0) return;
    this.reserve(bytes.length * count);
    if (bytes.length === 1) {
      this.data.fill(bytes[0]!, this.length, this.length + count);
      this.length += count;
      return;
    }
    for (let k = 0; k < count; k++) {
      this.data.set(bytes, this.length);
      this.length += bytes.length;
    }
  }

  zeros(count: number): void {
    this.reserve(count);
    this.data.fill(0, this.length, this.length + count);
    this.length += count;
  }

  bytes(): Uint8Array {
    return this.data.subarray(0, this.length);
  }
}

export class Section {
  /** Bytes of a progbits section; nobits sections only count `size`. */
  readonly buffer = new ByteBuffer();
  size = 0;
  /** Absolute address of the section's first byte (from the previous pass's layout). */
  start = 0n;

  constructor(readonly index: number, readonly name: string, readonly nobits: boolean, public align: number) {}

  append(bytes: ArrayLike<number>): void {
    if (!this.nobits) this.buffer.push(bytes);
    this.size += bytes.length;
  }

  appendRepeated(bytes: ArrayLike<number>, count: number): void {
    if (!this.nobits) this.buffer.repeat(bytes, count);
    this.size += bytes.length * count;
  }

  reserve(count: number): void {
    if (!this.nobits) this.buffer.zeros(count);
    this.size += count;
  }
}

const DEFAULT_ALIGN = 4;

/** The section named `name`, creating it with NASM's defaults for that name. */
export function newSection(index: number, name: string, nobits: boolean | null, align: number | null): Section {
  const isNobits = nobits ?? (name === '.bss');
  return new Section(index, name, isNobits, align ?? DEFAULT_ALIGN);
}

/** Order of sections in the image: .text, other progbits by creation, then nobits. */
export function layoutOrder(sections: readonly Section[]): Section[] {
  const text = sections.filter((s) => s.name === '.text');
  const progbits = sections.filter((s) => s.name !== '.text' && !s.nobits);
  const nobits = sections.filter((s) => s.name !== '.text' && s.nobits);
  return [...text, ...progbits, ...nobits];
}

/** Start address of each section, by index, for the given origin. */
export function layout(sections: readonly Section[], origin: bigint): Map<number, bigint> {
  const starts = new Map<number, bigint>();
  let address = origin;
  let first = true;
  for (const s of layoutOrder(sections)) {
    if (!first) {
      const a = BigInt(s.align);
      address = ((address + a - 1n) / a) * a;
    }
    first = false;
    starts.set(s.index, address);
    address += BigInt(s.size);
  }
  return starts;
}

/** The flat image: progbits sections at their offsets from the origin, gaps zeroed. */
export function flatImage(sections: readonly Section[], origin: bigint): Uint8Array {
  const progbits = layoutOrder(sections).filter((s) => !s.nobits);
  let end = 0;
  for (const s of progbits) end = Math.max(end, Number(s.start - origin) + s.size);
  const image = new Uint8Array(end);
  for (const s of progbits) image.set(s.buffer.bytes(), Number(s.start - origin));
  return image;
}

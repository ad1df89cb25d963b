/**
 * Physical memory: RAM at physical address 0 of one WebAssembly.Memory (so a physical RAM address
 * is its byte offset), followed by the CPU's shared state area (TLB, registers). Addresses outside
 * RAM go to an I/O hook (MMIO devices, ROM), or read as all-ones and ignore writes.
 */

export interface PhysicalIoHook {
  read(addr: number, size: 1 | 2 | 4): number;
  write(addr: number, size: 1 | 2 | 4, value: number): void;
}

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
/** The offset bits of an address within its page. */
export const PAGE_MASK = PAGE_SIZE - 1;

export class PhysicalMemory {
  readonly wasm: WebAssembly.Memory;
  readonly ramSize: number;
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  readonly i32: Int32Array;
  readonly view: DataView;
  /** Byte offset of the state area that follows RAM. */
  readonly stateOffset: number;
  /** Non-zero for a RAM page that holds decoded code: writes to it are reported (onCodeWrite). */
  readonly codePages: Uint16Array;
  /**
   * Called when a write hits a page that holds decoded code, with the page, the offset of the
   * first byte written in it and how many bytes of it were written.
   */
  onCodeWrite: (page: number, offset: number, size: number) => void = () => {};
  io: PhysicalIoHook | null = null;
  /**
   * A window of RAM that behaves as ROM: reads come from RAM, writes are dropped (the PC's BIOS area
   * below 1 MiB). Empty by default; the MMU never caches a write permission for it.
   */
  private romStart = 0;
  private romEnd = 0;

  constructor(ramSize: number, stateBytes: number) {
    if (ramSize % PAGE_SIZE !== 0 || ramSize <= 0) throw new RangeError('RAM size must be a positive multiple of 4 KiB');
    this.ramSize = ramSize;
    this.stateOffset = ramSize;
    const total = ramSize + stateBytes;
    const pages = Math.ceil(total / 65536);
    this.wasm = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const buf = this.wasm.buffer;
    this.u8 = new Uint8Array(buf);
    this.u16 = new Uint16Array(buf);
    this.i32 = new Int32Array(buf);
    this.view = new DataView(buf);
    this.codePages = new Uint16Array(ramSize >>> PAGE_SHIFT);
  }

  isRam(addr: number): boolean {
    return addr >>> 0 < this.ramSize;
  }

  /** Makes [start, start + length) read-only (page aligned) and fills it with `contents`. */
  mapRom(start: number, contents: Uint8Array): void {
    if (start % PAGE_SIZE || contents.length % PAGE_SIZE || start + contents.length > this.ramSize) {
      throw new RangeError(`ROM window [0x${start.toString(16)}, +0x${contents.length.toString(16)}) must be page aligned and inside RAM`);
    }
    this.load(start, contents);
    this.romStart = start;
    this.romEnd = start + contents.length;
  }

  /** True when a write to `addr` reaches RAM (not ROM, not MMIO). */
  isWritableRam(addr: number): boolean {
    addr >>>= 0;
    return addr < this.ramSize && (addr < this.romStart || addr >= this.romEnd);
  }

  read8(addr: number): number {
    addr >>>= 0;
    if (addr < this.ramSize) return this.u8[addr]!;
    return this.io ? this.io.read(addr, 1) & 0xff : 0xff;
  }
  read16(addr: number): number {
    addr >>>= 0;
    if (addr + 1 < this.ramSize) return this.view.getUint16(addr, true);
    if (this.io && addr >= this.ramSize) return this.io.read(addr, 2) & 0xffff;
    return this.read8(addr) | (this.read8(addr + 1) << 8);
  }
  read32(addr: number): number {
    addr >>>= 0;
    if (addr + 3 < this.ramSize) return this.view.getInt32(addr, true);
    if (this.io && addr >= this.ramSize) return this.io.read(addr, 4) | 0;
    return (this.read16(addr) | (this.read16(addr + 2) << 16)) | 0;
  }
  write8(addr: number, v: number): void {
    addr >>>= 0;
    if (addr < this.ramSize) {
      if (addr < this.romEnd && addr >= this.romStart) return;
      this.u8[addr] = v;
      if (this.codePages[addr >>> PAGE_SHIFT]) this.onCodeWrite(addr >>> PAGE_SHIFT, addr & PAGE_MASK, 1);
    } else this.io?.write(addr, 1, v & 0xff);
  }
  write16(addr: number, v: number): void {
    addr >>>= 0;
    if (addr + 1 < this.ramSize && (addr + 1 < this.romStart || addr >= this.romEnd)) {
      this.view.setUint16(addr, v, true);
      this.noteWrite(addr, 2);
    } else if (this.io && addr >= this.ramSize) this.io.write(addr, 2, v & 0xffff);
    else { this.write8(addr, v); this.write8(addr + 1, v >> 8); }
  }
  write32(addr: number, v: number): void {
    addr >>>= 0;
    if (addr + 3 < this.ramSize && (addr + 3 < this.romStart || addr >= this.romEnd)) {
      this.view.setInt32(addr, v, true);
      this.noteWrite(addr, 4);
    } else if (this.io && addr >= this.ramSize) this.io.write(addr, 4, v | 0);
    else { this.write16(addr, v); this.write16(addr + 2, v >>> 16); }
  }
  private noteWrite(addr: number, size: number): void {
    const p0 = addr >>> PAGE_SHIFT, p1 = (addr + size - 1) >>> PAGE_SHIFT;
    const offset = addr & PAGE_MASK, inFirst = Math.min(size, PAGE_MASK + 1 - offset);
    if (this.codePages[p0]) this.onCodeWrite(p0, offset, inFirst);
    if (p1 !== p0 && this.codePages[p1]) this.onCodeWrite(p1, 0, size - inFirst);
  }

  /** Copies bytes into RAM (loaders); invalidates decoded code it overwrites. */
  load(addr: number, bytes: Uint8Array): void {
    if (addr < 0 || addr + bytes.length > this.ramSize) throw new RangeError(`load of ${bytes.length} bytes at 0x${addr.toString(16)} does not fit in RAM`);
    this.u8.set(bytes, addr);
    const end = addr + bytes.length;
    for (let p = addr >>> PAGE_SHIFT; p <= (end - 1) >>> PAGE_SHIFT; p++) {
      const from = Math.max(addr, p << PAGE_SHIFT), to = Math.min(end, (p + 1) << PAGE_SHIFT);
      if (this.codePages[p]) this.onCodeWrite(p, from & PAGE_MASK, to - from);
    }
  }
}

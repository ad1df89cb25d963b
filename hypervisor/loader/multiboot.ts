/**
 * Multiboot v1 loading (Multiboot Specification 0.6.96): finds and checks the header, lays the image
 * out as load segments (from the a.out-kludge address fields, or from ELF32 program headers), and
 * builds the Multiboot information structure the way GRUB builds it.
 *
 * Everything here is validation and layout on plain bytes; writing into guest memory and entering
 * the kernel belong to the board or the hypervisor that owns the memory.
 */

export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
/** The header must lie, 4-byte aligned, within the first 8 KiB of the image (spec 3.1). */
const HEADER_SEARCH_LIMIT = 8192;

const FLAG_PAGE_ALIGN = 1 << 0;
const FLAG_MEMORY_INFO = 1 << 1;
const FLAG_VIDEO_MODE = 1 << 2;
const FLAG_AOUT_KLUDGE = 1 << 16;

/** A malformed or unloadable image. The message names what is wrong; nothing has been loaded. */
export class ImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageError';
  }
}

export interface LoadSegment {
  /** Physical load address. */
  address: number;
  /** Bytes copied from the image. */
  data: Uint8Array;
  /** Total size in memory; bytes past `data` are zeroed (BSS). */
  memorySize: number;
}

export interface MultibootImage {
  format: 'multiboot-aout' | 'multiboot-elf' | 'raw';
  entry: number;
  segments: LoadSegment[];
  /** Header flags (0 for raw images). */
  flags: number;
}

const u32 = (b: Uint8Array, off: number): number =>
  (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
const u16 = (b: Uint8Array, off: number): number => b[off]! | (b[off + 1]! << 8);
const hex = (n: number): string => '0x' + (n >>> 0).toString(16);

function findHeader(image: Uint8Array): number {
  const limit = Math.min(image.length - 12, HEADER_SEARCH_LIMIT - 12);
  for (let off = 0; off <= limit; off += 4) {
    if (u32(image, off) === MULTIBOOT_HEADER_MAGIC) return off;
  }
  return -1;
}

/** Parses a Multiboot kernel image. Throws ImageError with a precise reason. */
export function parseMultiboot(image: Uint8Array): MultibootImage {
  if (image.length < 12) throw new ImageError(`image is ${image.length} bytes: too short to hold a Multiboot header`);
  const at = findHeader(image);
  if (at < 0) throw new ImageError('no Multiboot header (magic 0x1BADB002) in the first 8 KiB');
  const flags = u32(image, at + 4), checksum = u32(image, at + 8);
  if (((MULTIBOOT_HEADER_MAGIC + flags + checksum) >>> 0) !== 0) {
    throw new ImageError(`Multiboot header at offset ${hex(at)}: bad checksum (magic + flags + checksum = ${hex(MULTIBOOT_HEADER_MAGIC + flags + checksum)}, must be 0)`);
  }
  // Bits 0-15 are requirements: refuse what this loader cannot honour (spec 3.1.2).
  const unknownRequired = flags & 0xffff & ~(FLAG_PAGE_ALIGN | FLAG_MEMORY_INFO | FLAG_VIDEO_MODE);
  if (unknownRequired) throw new ImageError(`Multiboot header requires unsupported features (flags ${hex(unknownRequired)})`);
  if (flags & FLAG_VIDEO_MODE) throw new ImageError('Multiboot header requires a video mode (flag 2); trapvisor has no graphics');
  if (flags & FLAG_AOUT_KLUDGE) return parseAoutKludge(image, at, flags);
  return { ...parseElf32(image), format: 'multiboot-elf', flags };
}

function parseAoutKludge(image: Uint8Array, at: number, flags: number): MultibootImage {
  if (at + 32 > image.length) throw new ImageError('Multiboot header is truncated: the a.out address fields (flag 16) are missing');
  const headerAddr = u32(image, at + 12), loadAddr = u32(image, at + 16);
  const loadEndAddr = u32(image, at + 20), bssEndAddr = u32(image, at + 24), entry = u32(image, at + 28);
  if (loadAddr > headerAddr) throw new ImageError(`load_addr ${hex(loadAddr)} is above header_addr ${hex(headerAddr)}`);
  const fileStart = at - (headerAddr - loadAddr);
  if (fileStart < 0) throw new ImageError(`header_addr - load_addr (${hex(headerAddr - loadAddr)}) points before the start of the file`);
  const loadEnd = loadEndAddr === 0 ? loadAddr + (image.length - fileStart) : loadEndAddr;
  if (loadEnd < loadAddr) throw new ImageError(`load_end_addr ${hex(loadEnd)} is below load_addr ${hex(loadAddr)}`);
  const fileBytes = loadEnd - loadAddr;
  if (fileStart + fileBytes > image.length) {
    throw new ImageError(`image is truncated: the header asks for ${fileBytes} bytes from offset ${hex(fileStart)}, the file has ${image.length - fileStart}`);
  }
  const bssEnd = bssEndAddr === 0 ? loadEnd : bssEndAddr;
  if (bssEnd < loadEnd) throw new ImageError(`bss_end_addr ${hex(bssEnd)} is below load_end_addr ${hex(loadEnd)}`);
  if (entry < loadAddr || entry >= loadEnd) throw new ImageError(`entry_addr ${hex(entry)} lies outside the loaded image [${hex(loadAddr)}, ${hex(loadEnd)})`);
  return {
    format: 'multiboot-aout', entry, flags,
    segments: [{ address: loadAddr, data: image.subarray(fileStart, fileStart + fileBytes), memorySize: bssEnd - loadAddr }],
  };
}

/** ELF32 executables for EM_386: PT_LOAD segments go to their physical addresses (p_paddr). */
function parseElf32(image: Uint8Array): Omit<MultibootImage, 'format' | 'flags'> {
  if (image.length < 52 || u32(image, 0) !== 0x464c457f) {
    throw new ImageError('Multiboot header has no a.out address fields (flag 16) and the image is not ELF');
  }
  if (image[4] !== 1) throw new ImageError('ELF image is not 32-bit (EI_CLASS must be ELFCLASS32)');
  if (image[5] !== 1) throw new ImageError('ELF image is not little-endian');
  if (u16(image, 16) !== 2) throw new ImageError('ELF image is not an executable (e_type must be ET_EXEC)');
  if (u16(image, 18) !== 3) throw new ImageError('ELF image is not for the i386 (e_machine must be EM_386)');
  const entry = u32(image, 24), phoff = u32(image, 28), phentsize = u16(image, 42), phnum = u16(image, 44);
  if (phnum === 0) throw new ImageError('ELF image has no program headers');
  if (phentsize < 32 || phoff + phnum * phentsize > image.length) throw new ImageError('ELF program header table is truncated');
  const segments: LoadSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (u32(image, ph) !== 1) continue; // PT_LOAD
    const offset = u32(image, ph + 4), paddr = u32(image, ph + 12), filesz = u32(image, ph + 16), memsz = u32(image, ph + 20);
    if (offset + filesz > image.length) throw new ImageError(`ELF segment ${i} is truncated: ${filesz} bytes at offset ${hex(offset)}, the file has ${image.length}`);
    if (memsz < filesz) throw new ImageError(`ELF segment ${i}: p_memsz ${memsz} is smaller than p_filesz ${filesz}`);
    segments.push({ address: paddr, data: image.subarray(offset, offset + filesz), memorySize: memsz });
  }
  if (segments.length === 0) throw new ImageError('ELF image has no PT_LOAD segments');
  if (!segments.some((s) => entry >= s.address && entry < s.address + s.memorySize)) {
    throw new ImageError(`ELF entry point ${hex(entry)} lies outside every loaded segment`);
  }
  return { entry, segments };
}

/** A raw flat binary loaded at `address` and entered at `entry` (`--load`, `--entry`). */
export function rawImage(image: Uint8Array, address: number, entry: number): MultibootImage {
  if (image.length === 0) throw new ImageError('image is empty');
  if (entry < address || entry >= address + image.length) throw new ImageError(`entry ${hex(entry)} lies outside the image loaded at ${hex(address)}`);
  return { format: 'raw', entry, flags: 0, segments: [{ address, data: image, memorySize: image.length }] };
}

// ------------------------------------------------------------------ the information structure

/** Where the loader puts its own structures (below the EBDA, above the IVT/BDA, like GRUB legacy). */
export const BOOT_INFO_AREA = { start: 0x8000, end: 0x10000 } as const;
const INFO_ADDR = 0x8000, MMAP_ADDR = 0x8100, CMDLINE_ADDR = 0x8400, NAME_ADDR = 0x8c00;
const CMDLINE_MAX = NAME_ADDR - CMDLINE_ADDR - 1;
export const BOOT_LOADER_NAME = 'trapvisor';

export interface BootInfo {
  /** Physical address of the information structure (EBX on entry). */
  address: number;
  /** Bytes to write, each at its physical address. */
  writes: { address: number; data: Uint8Array }[];
}

/** The BIOS-style physical memory map GRUB reports for a PC with `ramSize` bytes. */
export function memoryMap(ramSize: number): { base: number; length: number; type: 1 | 2 }[] {
  return [
    { base: 0, length: 0x9fc00, type: 1 },
    { base: 0x9fc00, length: 0x400, type: 2 },
    { base: 0xf0000, length: 0x10000, type: 2 },
    { base: 0x100000, length: ramSize - 0x100000, type: 1 },
  ];
}

/**
 * Checks that the image fits in RAM and does not overlap the loader's structures, then builds the
 * Multiboot information (flags: mem, cmdline, mmap, boot_loader_name).
 */
export function buildBootInfo(image: MultibootImage, ramSize: number, cmdline: string): BootInfo {
  if (ramSize < 0x200000) throw new ImageError(`guest memory of ${ramSize} bytes is too small: Multiboot kernels need at least 2 MiB`);
  for (const s of image.segments) {
    const end = s.address + s.memorySize;
    if (end > ramSize) throw new ImageError(`image segment [${hex(s.address)}, ${hex(end)}) does not fit in ${ramSize >> 20} MiB of memory`);
    if (s.address < BOOT_INFO_AREA.end && end > BOOT_INFO_AREA.start) {
      throw new ImageError(`image segment [${hex(s.address)}, ${hex(end)}) overlaps the boot loader's structures at [${hex(BOOT_INFO_AREA.start)}, ${hex(BOOT_INFO_AREA.end)})`);
    }
    if (s.address < 0x500) throw new ImageError(`image segment at ${hex(s.address)} overlaps the real-mode interrupt vector table and BIOS data area`);
    if (s.address < 0x100000 && end > 0x9fc00) throw new ImageError(`image segment [${hex(s.address)}, ${hex(end)}) overlaps the BIOS area between 640 KiB and 1 MiB`);
  }
  const cmd = new TextEncoder().encode(cmdline);
  if (cmd.length > CMDLINE_MAX) throw new ImageError(`command line is ${cmd.length} bytes; at most ${CMDLINE_MAX} fit`);

  const mmap = memoryMap(ramSize);
  const mmapBytes = new Uint8Array(mmap.length * 24);
  const mv = new DataView(mmapBytes.buffer);
  mmap.forEach((e, i) => {
    const o = i * 24;
    mv.setUint32(o, 20, true); // size of the entry, not counting this field
    mv.setUint32(o + 4, e.base, true); mv.setUint32(o + 8, 0, true);
    mv.setUint32(o + 12, e.length, true); mv.setUint32(o + 16, 0, true);
    mv.setUint32(o + 20, e.type, true);
  });
  const info = new Uint8Array(88);
  const iv = new DataView(info.buffer);
  iv.setUint32(0, (1 << 0) | (1 << 2) | (1 << 6) | (1 << 9), true); // mem, cmdline, mmap, boot_loader_name
  iv.setUint32(4, 640, true); // mem_lower in KiB
  iv.setUint32(8, (ramSize - 0x100000) / 1024, true); // mem_upper in KiB
  iv.setUint32(16, CMDLINE_ADDR, true);
  iv.setUint32(44, mmapBytes.length, true);
  iv.setUint32(48, MMAP_ADDR, true);
  iv.setUint32(64, NAME_ADDR, true);
  const z = (s: Uint8Array): Uint8Array => { const b = new Uint8Array(s.length + 1); b.set(s); return b; };
  return {
    address: INFO_ADDR,
    writes: [
      { address: INFO_ADDR, data: info },
      { address: MMAP_ADDR, data: mmapBytes },
      { address: CMDLINE_ADDR, data: z(cmd) },
      { address: NAME_ADDR, data: z(new TextEncoder().encode(BOOT_LOADER_NAME)) },
    ],
  };
}

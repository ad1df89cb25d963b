import { describe, expect, it } from 'vitest';
import {
  buildBootInfo, ImageError, memoryMap, MULTIBOOT_HEADER_MAGIC, parseMultiboot, rawImage,
} from '../../hypervisor/loader/multiboot.js';

/** A flat a.out-kludge image: header at offset 0, code after it, loaded at `load`. */
function aoutImage(opts: { load?: number; codeBytes?: number; bss?: number; flags?: number; checksumDelta?: number; entryDelta?: number } = {}): Uint8Array {
  const load = opts.load ?? 0x100000, code = opts.codeBytes ?? 16;
  const flags = opts.flags ?? 0x00010002;
  const img = new Uint8Array(32 + code);
  const v = new DataView(img.buffer);
  v.setUint32(0, MULTIBOOT_HEADER_MAGIC, true);
  v.setUint32(4, flags, true);
  v.setUint32(8, (-(MULTIBOOT_HEADER_MAGIC + flags) + (opts.checksumDelta ?? 0)) >>> 0, true);
  v.setUint32(12, load, true); // header_addr
  v.setUint32(16, load, true); // load_addr
  v.setUint32(20, load + img.length, true); // load_end_addr
  v.setUint32(24, load + img.length + (opts.bss ?? 0), true); // bss_end_addr
  v.setUint32(28, load + 32 + (opts.entryDelta ?? 0), true); // entry
  img.fill(0x90, 32);
  return img;
}

/** A minimal ELF32 executable with one PT_LOAD segment and a Multiboot header inside it. */
function elfImage(paddr = 0x100000): Uint8Array {
  const img = new Uint8Array(0x100);
  const v = new DataView(img.buffer);
  img.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  v.setUint16(16, 2, true); v.setUint16(18, 3, true); v.setUint32(20, 1, true);
  v.setUint32(24, paddr + 0x80, true); // e_entry
  v.setUint32(28, 52, true); // e_phoff
  v.setUint16(40, 52, true); v.setUint16(42, 32, true); v.setUint16(44, 1, true);
  v.setUint32(52, 1, true); v.setUint32(56, 0x60, true); v.setUint32(60, paddr, true); v.setUint32(64, paddr, true);
  v.setUint32(68, 0xa0, true); v.setUint32(72, 0x1000, true); v.setUint32(76, 5, true);
  v.setUint32(0x60, MULTIBOOT_HEADER_MAGIC, true); v.setUint32(0x64, 0, true); v.setUint32(0x68, (-MULTIBOOT_HEADER_MAGIC) >>> 0, true);
  return img;
}

describe('Multiboot images', () => {
  it('lays out an a.out-kludge image from its header fields', () => {
    const img = parseMultiboot(aoutImage({ bss: 0x100 }));
    expect(img.format).toBe('multiboot-aout');
    expect(img.entry).toBe(0x100020);
    expect(img.segments).toHaveLength(1);
    expect(img.segments[0]!.address).toBe(0x100000);
    expect(img.segments[0]!.data.length).toBe(48);
    expect(img.segments[0]!.memorySize).toBe(48 + 0x100);
  });

  it('loads ELF32 PT_LOAD segments at their physical addresses', () => {
    const img = parseMultiboot(elfImage());
    expect(img.format).toBe('multiboot-elf');
    expect(img.entry).toBe(0x100080);
    expect(img.segments[0]).toMatchObject({ address: 0x100000, memorySize: 0x1000 });
    expect(img.segments[0]!.data.length).toBe(0xa0);
  });

  const refusals: [string, () => Uint8Array, RegExp][] = [
    ['a file too short for a header', () => new Uint8Array(8), /too short/],
    ['no header at all', () => new Uint8Array(16384), /no Multiboot header/],
    ['a bad checksum', () => aoutImage({ checksumDelta: 1 }), /bad checksum/],
    ['a video-mode requirement', () => aoutImage({ flags: 0x00010004 }), /video mode/],
    ['unknown required flags', () => aoutImage({ flags: 0x00010008 }), /unsupported features/],
    ['a truncated image', () => aoutImage().subarray(0, 40), /truncated/],
    ['an entry outside the image', () => aoutImage({ entryDelta: 0x1000 }), /outside the loaded image/],
    ['a header without address fields that is not ELF', () => aoutImage({ flags: 0x2 }), /not ELF/],
  ];
  for (const [what, make, message] of refusals) {
    it(`refuses ${what}`, () => {
      expect(() => parseMultiboot(make())).toThrow(ImageError);
      expect(() => parseMultiboot(make())).toThrow(message);
    });
  }

  it('refuses images that do not fit or overlap the loader', () => {
    expect(() => buildBootInfo(parseMultiboot(aoutImage({ load: 0x3fff000, bss: 0x2000 })), 64 << 20, '')).toThrow(/does not fit/);
    expect(() => buildBootInfo(parseMultiboot(aoutImage({ load: 0x8000 })), 64 << 20, '')).toThrow(/boot loader's structures/);
    expect(() => buildBootInfo(parseMultiboot(aoutImage()), 1 << 20, '')).toThrow(/too small/);
    expect(() => buildBootInfo(parseMultiboot(aoutImage()), 32 << 20, 'x'.repeat(5000))).toThrow(/command line/);
  });

  it('builds the information structure as GRUB does', () => {
    const info = buildBootInfo(parseMultiboot(aoutImage()), 32 << 20, 'console=ttyS0');
    const block = info.writes.find((w) => w.address === info.address)!.data;
    const v = new DataView(block.buffer, block.byteOffset);
    expect(v.getUint32(0, true)).toBe(0x245); // mem, cmdline, mmap, boot_loader_name
    expect(v.getUint32(4, true)).toBe(640);
    expect(v.getUint32(8, true)).toBe(31 * 1024);
    const cmd = info.writes.find((w) => w.address === v.getUint32(16, true))!.data;
    expect(new TextDecoder().decode(cmd)).toBe('console=ttyS0\0');
    const name = info.writes.find((w) => w.address === v.getUint32(64, true))!.data;
    expect(new TextDecoder().decode(name)).toBe('trapvisor\0');
    expect(v.getUint32(44, true)).toBe(memoryMap(32 << 20).length * 24);
  });

  it('accepts raw images with an entry inside them', () => {
    expect(rawImage(new Uint8Array(16), 0x7c00, 0x7c00).entry).toBe(0x7c00);
    expect(() => rawImage(new Uint8Array(16), 0x7c00, 0x8000)).toThrow(/outside/);
  });
});

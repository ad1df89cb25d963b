/**
 * An ELF32 file carrying an image's sections and labels (System V ABI, chapter 4), so that GDB,
 * which cannot read our JSON symbol file, knows `start` and `start.next`. The GDB server hands it
 * over as the "executable" (qXfer:exec-file:read and vFile), and GDB's default sysroot `target:`
 * makes `target remote :PORT` load it with no `file` command. No program headers and no debug
 * information: sections, a symbol table and its string tables.
 */
import type { SymbolFile } from '../../assembler/symbol-file.js';

const EHDR = 52, SHDR = 40, SYM = 16;
const SHT_PROGBITS = 1, SHT_SYMTAB = 2, SHT_STRTAB = 3, SHT_NOBITS = 8;
const SHF_WRITE = 1, SHF_ALLOC = 2, SHF_EXECINSTR = 4;
const STB_GLOBAL = 1, SHN_ABS = 0xfff1;

/** A string table: offsets of added strings (the first byte is the empty string). */
class StringTable {
  private readonly parts: Uint8Array[] = [new Uint8Array(1)];
  private size = 1;
  add(s: string): number {
    const at = this.size, bytes = new TextEncoder().encode(s + '\0');
    this.parts.push(bytes);
    this.size += bytes.length;
    return at;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) { out.set(p, o); o += p.length; }
    return out;
  }
}

/**
 * The ELF file. `contents(address, size)` gives a section's bytes (the guest's memory where the
 * image was loaded); null makes it zeros.
 */
export function symbolElf(symbols: SymbolFile, entry: number, contents: (address: number, size: number) => Uint8Array | null): Uint8Array {
  const sections = symbols.sections.length > 0 ? symbols.sections
    : [{ name: '.text', address: symbols.origin, size: Math.max(0, ...symbols.symbols.map((s) => s.address - symbols.origin + 1)), nobits: false }];
  const shstr = new StringTable(), str = new StringTable();
  interface Section { name: number; type: number; flags: number; addr: number; data: Uint8Array; size: number; link: number; info: number; align: number; entsize: number }
  const out: Section[] = sections.map((s) => ({
    name: shstr.add(s.name), type: s.nobits ? SHT_NOBITS : SHT_PROGBITS,
    flags: s.nobits ? SHF_ALLOC | SHF_WRITE : SHF_ALLOC | SHF_WRITE | SHF_EXECINSTR, addr: s.address >>> 0,
    data: s.nobits ? new Uint8Array(0) : contents(s.address, s.size) ?? new Uint8Array(s.size), size: s.size, link: 0, info: 0, align: 1, entsize: 0,
  }));
  // Labels only (an equ is a number, not a place); each bound to the section holding it.
  const labels = symbols.symbols.filter((s) => s.kind === 'label').sort((a, b) => a.address - b.address);
  const symtab = new Uint8Array(SYM * (labels.length + 1));
  const sv = new DataView(symtab.buffer);
  labels.forEach((s, i) => {
    const o = SYM * (i + 1), index = sections.findIndex((x) => s.address >= x.address && s.address < x.address + Math.max(1, x.size));
    sv.setUint32(o, str.add(s.name), true);
    sv.setUint32(o + 4, s.address >>> 0, true);
    sv.setUint8(o + 12, STB_GLOBAL << 4);
    sv.setUint16(o + 14, index < 0 ? SHN_ABS : index + 1, true);
  });
  const strtabIndex = out.length + 2;
  out.push({ name: shstr.add('.symtab'), type: SHT_SYMTAB, flags: 0, addr: 0, data: symtab, size: symtab.length, link: strtabIndex, info: 1, align: 4, entsize: SYM });
  const strBytes = str.bytes();
  out.push({ name: shstr.add('.strtab'), type: SHT_STRTAB, flags: 0, addr: 0, data: strBytes, size: strBytes.length, link: 0, info: 0, align: 1, entsize: 0 });
  const shstrName = shstr.add('.shstrtab');
  const shstrBytes = shstr.bytes();
  out.push({ name: shstrName, type: SHT_STRTAB, flags: 0, addr: 0, data: shstrBytes, size: shstrBytes.length, link: 0, info: 0, align: 1, entsize: 0 });

  // Layout: header, section contents (4-aligned), then the section header table.
  let offset = EHDR;
  const offsets = out.map((s) => { offset = (offset + 3) & ~3; const at = offset; offset += s.data.length; return at; });
  const shoff = (offset + 3) & ~3;
  const file = new Uint8Array(shoff + SHDR * (out.length + 1));
  const v = new DataView(file.buffer);
  file.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1], 0); // ELFCLASS32, ELFDATA2LSB, EV_CURRENT
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, 3, true); // EM_386
  v.setUint32(20, 1, true);
  v.setUint32(24, entry >>> 0, true);
  v.setUint32(32, shoff, true);
  v.setUint16(40, EHDR, true);
  v.setUint16(46, SHDR, true);
  v.setUint16(48, out.length + 1, true);
  v.setUint16(50, out.length, true); // .shstrtab is the last
  out.forEach((s, i) => {
    file.set(s.data, offsets[i]!);
    const h = shoff + SHDR * (i + 1);
    [s.name, s.type, s.flags, s.addr, offsets[i]!, s.size, s.link, s.info, s.align, s.entsize].forEach((x, k) => v.setUint32(h + 4 * k, x >>> 0, true));
  });
  return file;
}

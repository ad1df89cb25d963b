/**
 * The machine-state report printed when a guest crashes (triple fault) or its instruction budget
 * runs out: registers and EFLAGS decoded, segment caches, control and descriptor-table registers,
 * and the last executed code disassembled. Reading memory for the report never faults and never
 * touches devices: addresses that do not translate to RAM print as `??`.
 */
import { formatInsn } from '../../assembler/disasm/format.js';
import type { Cpu } from '../../emulator/cpu/cpu.js';
import { SegReg } from '../../emulator/cpu/segments.js';
import { decode } from '../../emulator/isa/decoder.js';

const hex = (v: number, width = 8): string => (v >>> 0).toString(16).padStart(width, '0');

const FLAG_NAMES: [number, string][] = [
  [0x1, 'CF'], [0x4, 'PF'], [0x10, 'AF'], [0x40, 'ZF'], [0x80, 'SF'], [0x100, 'TF'], [0x200, 'IF'],
  [0x400, 'DF'], [0x800, 'OF'], [0x4000, 'NT'], [0x10000, 'RF'], [0x20000, 'VM'], [0x40000, 'AC'], [0x200000, 'ID'],
];

export function decodeEflags(v: number): string {
  const names = FLAG_NAMES.filter(([bit]) => v & bit).map(([, n]) => n);
  names.push(`IOPL=${(v >>> 12) & 3}`);
  return names.join(' ');
}

/** Physical address of a linear one by walking the page tables without side effects, or null. */
export function peekTranslate(cpu: Cpu, linear: number): number | null {
  linear >>>= 0;
  if (!(cpu.mmu.cr0 & 0x80000000)) return linear;
  const mem = cpu.mem;
  const pdeAddr = ((cpu.mmu.cr3 & ~0xfff) >>> 0) + (linear >>> 22) * 4;
  if (!mem.isRam(pdeAddr)) return null;
  const pde = mem.read32(pdeAddr);
  if (!(pde & 1)) return null;
  if ((pde & 0x80) && (cpu.mmu.cr4 & 0x10)) return ((pde & 0xffc00000) >>> 0) + (linear & 0x3fffff);
  const pteAddr = ((pde & ~0xfff) >>> 0) + ((linear >>> 12) & 0x3ff) * 4;
  if (!mem.isRam(pteAddr)) return null;
  const pte = mem.read32(pteAddr);
  if (!(pte & 1)) return null;
  return ((pte & ~0xfff) >>> 0) + (linear & 0xfff);
}

/** A byte of guest memory by linear address, or null (unmapped, or not RAM). */
export function peekLinear8(cpu: Cpu, linear: number): number | null {
  const p = peekTranslate(cpu, linear);
  return p !== null && cpu.mem.isRam(p) ? cpu.mem.u8[p]! : null;
}

/** One instruction at a linear address, disassembled, or a note why not. */
export function disassembleAt(cpu: Cpu, linear: number, eip: number, bits: 16 | 32): { text: string; length: number } {
  const bytes: number[] = [];
  const r = decode((i) => {
    const b = peekLinear8(cpu, linear + i);
    if (b === null) throw new RangeError('unmapped');
    bytes[i] = b; // the decoder may read a byte more than once
    return b;
  }, bits);
  if ('fault' in r) return { text: `${bytes.map((b) => hex(b, 2)).join(' ').padEnd(24)} (does not decode: #${r.fault})`, length: Math.max(1, bytes.length) };
  return { text: `${bytes.map((b) => hex(b, 2)).join('').padEnd(24)} ${formatInsn(r, { address: eip, bits })}`, length: r.length };
}

function safeDisassemble(cpu: Cpu, linear: number, eip: number, bits: 16 | 32): { text: string; length: number } {
  try {
    return disassembleAt(cpu, linear, eip, bits);
  } catch {
    return { text: '(not readable)', length: 1 };
  }
}

/** Registers, segments, control registers and recent code, as lines of text. */
export function formatCpuReport(cpu: Cpu): string[] {
  const r = (i: number): string => hex(cpu.r[i]!);
  const eflags = cpu.eflags;
  const lines = [
    `EAX=${r(0)} EBX=${r(3)} ECX=${r(1)} EDX=${r(2)}`,
    `ESI=${r(6)} EDI=${r(7)} EBP=${r(5)} ESP=${r(4)}`,
    `EIP=${hex(cpu.eip)} EFLAGS=${hex(eflags)} [${decodeEflags(eflags)}] CPL=${cpu.cpl} ${cpu.v86 ? 'virtual-8086' : cpu.protectedMode ? `protected ${cpu.codeBits}-bit` : 'real'} mode`,
  ];
  const names: [number, string][] = [[SegReg.ES, 'ES'], [SegReg.CS, 'CS'], [SegReg.SS, 'SS'], [SegReg.DS, 'DS'], [SegReg.FS, 'FS'], [SegReg.GS, 'GS'], [SegReg.LDTR, 'LDTR'], [SegReg.TR, 'TR']];
  for (const [s, n] of names) {
    lines.push(`${n.padEnd(4)} =${hex(cpu.segSel[s]!, 4)} base=${hex(cpu.segBase[s]!)} limit=${hex(cpu.segLimit[s]!)} attr=${hex(cpu.segAttr[s]!, 4)}`);
  }
  lines.push(`GDT=${hex(cpu.gdtBase)},${hex(cpu.gdtLimit, 4)} IDT=${hex(cpu.idtBase)},${hex(cpu.idtLimit, 4)}`);
  lines.push(`CR0=${hex(cpu.mmu.cr0)} CR2=${hex(cpu.mmu.cr2)} CR3=${hex(cpu.mmu.cr3)} CR4=${hex(cpu.mmu.cr4)}`);
  lines.push(`DR6=${hex(cpu.dr[6]!)} DR7=${hex(cpu.dr[7]!)} instructions=${cpu.icount}`);
  const bits = cpu.codeBits;
  const csBase = cpu.segBase[SegReg.CS]!;
  if (cpu.history) {
    const h = cpu.history, n = Math.min(cpu.historyAt, h.length);
    const recent: number[] = [];
    for (let i = cpu.historyAt - n; i < cpu.historyAt; i++) recent.push(h[i & (h.length - 1)]! >>> 0);
    const shown = recent.slice(-8);
    lines.push(`recent execution (${cpu.engine === 'blocks' ? 'block entries' : 'instructions'}, oldest first):`);
    for (const lin of shown) {
      lines.push(`  ${hex(lin)}  ${safeDisassemble(cpu, lin, (lin - csBase) >>> 0, bits).text}`);
    }
  }
  const at = (csBase + cpu.eip) | 0;
  lines.push(`at EIP:`);
  let lin = at;
  for (let i = 0; i < 3; i++) {
    const d = safeDisassemble(cpu, lin, (lin - csBase) >>> 0, bits);
    lines.push(`  ${hex(lin)}  ${d.text}${i === 0 ? '   <==' : ''}`);
    lin = (lin + d.length) | 0;
  }
  return lines;
}

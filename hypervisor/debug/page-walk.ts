/**
 * Address translation as the debugger shows it, with no side effect: the guest's own two-level
 * paging (a linear address to guest-physical; accessed and dirty bits are left alone, unlike the
 * processor's walk) and then, under the hypervisor, the VM's EPT (guest-physical to host-physical).
 * Each level is reported so `info translate ADDR` can print the whole walk.
 */
import type { PhysicalMemory } from '../../emulator/cpu/memory.js';
import { VmcsField as F } from '../../emulator/vmx/fields.js';
import type { DebugTarget } from './target.js';
import { VmTarget } from './target.js';

export interface WalkStep {
  level: string;
  /** Address of the entry read (guest-physical for paging, host-physical for EPT). */
  entryAddress: number;
  entry: number;
  /** What the entry says, e.g. "P W U A D" or "R W X". */
  flags: string;
}

export interface Walk {
  steps: WalkStep[];
  /** The result, or null with `fault` saying why. */
  address: number | null;
  fault?: string;
}

const hex = (v: number): string => '0x' + (v >>> 0).toString(16);

function pteFlags(e: number): string {
  const names: [number, string][] = [[1, 'P'], [2, 'W'], [4, 'U'], [8, 'PWT'], [16, 'PCD'], [32, 'A'], [64, 'D'], [128, 'PS'], [256, 'G']];
  return names.filter(([b]) => e & b).map(([, n]) => n).join(' ');
}

/** The guest's paging walk of a linear address (paging off: the identity). */
export function walkGuest(target: DebugTarget, linear: number): Walk {
  linear >>>= 0;
  const cr0 = target instanceof VmTarget ? target.realCr(0) : target.cr(0);
  const cr4 = target instanceof VmTarget ? target.realCr(4) : target.cr(4);
  if (!(cr0 & 0x80000000)) return { steps: [], address: linear };
  const read = (gpa: number): number | null => {
    const b = target.readPhys(gpa, 4);
    return b === null ? null : (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  };
  const steps: WalkStep[] = [];
  const pdeAddr = ((target.cr(3) & ~0xfff) >>> 0) + (linear >>> 22) * 4;
  const pde = read(pdeAddr);
  if (pde === null) return { steps, address: null, fault: `page directory entry at ${hex(pdeAddr)} is outside RAM` };
  steps.push({ level: 'PDE', entryAddress: pdeAddr, entry: pde, flags: pteFlags(pde) });
  if (!(pde & 1)) return { steps, address: null, fault: 'not present (PDE)' };
  if ((pde & 0x80) && (cr4 & 0x10)) return { steps, address: ((pde & 0xffc00000) >>> 0) + (linear & 0x3fffff) };
  const pteAddr = ((pde & ~0xfff) >>> 0) + ((linear >>> 12) & 0x3ff) * 4;
  const pte = read(pteAddr);
  if (pte === null) return { steps, address: null, fault: `page table entry at ${hex(pteAddr)} is outside RAM` };
  steps.push({ level: 'PTE', entryAddress: pteAddr, entry: pte, flags: pteFlags(pte) });
  if (!(pte & 1)) return { steps, address: null, fault: 'not present (PTE)' };
  return { steps, address: ((pte & ~0xfff) >>> 0) + (linear & 0xfff) };
}

/** A VM's EPT walk of a guest-physical address to host-physical (4 levels, 2 MiB leaves). */
export function walkEpt(mem: PhysicalMemory, eptPointer: number, gpa: number): Walk {
  const steps: WalkStep[] = [];
  let table = (eptPointer & ~0xfff) >>> 0;
  const levels: [string, number][] = [['PML4E', 39], ['PDPTE', 30], ['PDE', 21], ['PTE', 12]];
  for (const [level, shift] of levels) {
    const index = shift >= 32 ? 0 : Math.floor(gpa / 2 ** shift) & 0x1ff;
    const at = table + index * 8;
    if (at + 8 > mem.ramSize) return { steps, address: null, fault: `EPT ${level} at ${hex(at)} is outside host RAM` };
    const lo = mem.read32(at) >>> 0, hi = mem.read32(at + 4) >>> 0;
    const flags = ['R', 'W', 'X'].filter((_, i) => lo & (1 << i)).join(' ') + (lo & 0x80 && level === 'PDE' ? ' 2M' : '')
      + (lo & 0x100 ? ' A' : '') + (lo & 0x200 ? ' D' : '');
    steps.push({ level, entryAddress: at, entry: lo, flags: flags.trim() + (hi ? ` hi=${hex(hi)}` : '') });
    if (!(lo & 7)) return { steps, address: null, fault: `not present (EPT ${level}): an access exits with an EPT violation` };
    const frame = ((lo & ~0xfff) >>> 0) + (hi & 0xfffff) * 2 ** 32;
    if (level === 'PDE' && lo & 0x80) return { steps, address: ((lo & 0xffe00000) >>> 0) + (gpa & 0x1fffff) };
    if (level === 'PTE') return { steps, address: frame + (gpa & 0xfff) };
    table = frame;
  }
  return { steps, address: null, fault: 'unreachable' };
}

/** EPT walk for a VM target (its VMCS's EPT pointer). */
export function walkTargetEpt(target: VmTarget, gpa: number): Walk {
  const eptp = Number(target.vcpu.vmcs.read64(F.EPT_POINTER) & 0xffffffffn);
  return walkEpt(target.cpu.mem, eptp, gpa);
}

/** Linear to guest-physical without side effects, or null. */
export function linearToPhysical(target: DebugTarget, linear: number): number | null {
  return walkGuest(target, linear).address;
}

/** Reads `length` bytes at a linear address (page by page), or null if any page does not translate. */
export function readLinear(target: DebugTarget, linear: number, length: number): Uint8Array | null {
  const b = readLinearPrefix(target, linear, length);
  return b.length === length ? b : null;
}

/**
 * Reads up to `length` bytes at a linear address, page by page, stopping at the first page that
 * does not translate: the readable prefix (empty if the first page is not readable).
 */
export function readLinearPrefix(target: DebugTarget, linear: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const at = (linear + done) >>> 0;
    const chunk = Math.min(length - done, 0x1000 - (at & 0xfff));
    const p = linearToPhysical(target, at);
    const b = p === null ? null : target.readPhys(p, chunk);
    if (b === null) break;
    out.set(b, done);
    done += chunk;
  }
  return done === length ? out : out.subarray(0, done);
}

/** Writes bytes at a linear address; false (nothing written) if any page does not translate. */
export function writeLinear(target: DebugTarget, linear: number, bytes: Uint8Array): boolean {
  const parts: [number, Uint8Array][] = [];
  let done = 0;
  while (done < bytes.length) {
    const at = (linear + done) >>> 0;
    const chunk = Math.min(bytes.length - done, 0x1000 - (at & 0xfff));
    const p = linearToPhysical(target, at);
    if (p === null || target.readPhys(p, chunk) === null) return false;
    parts.push([p, bytes.subarray(done, done + chunk)]);
    done += chunk;
  }
  for (const [p, b] of parts) target.writePhys(p, b);
  return true;
}

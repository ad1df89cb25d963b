/**
 * What the debugger stops and inspects: the bare machine's CPU, or one VM's vCPU under the
 * hypervisor. Both are seen the same way: general registers, EIP, EFLAGS, segment caches, control
 * and descriptor-table registers, guest-physical memory (RAM only: a debugger read never reaches a
 * device), and the count of instructions the guest has retired. A VM's state is read from where the
 * hypervisor keeps it while the vCPU is off the processor: `vcpu.regs` and the VMCS guest-state area.
 */
import type { Cpu } from '../../emulator/cpu/cpu.js';
import { SegReg } from '../../emulator/cpu/segments.js';
import type { BareMachine } from '../../emulator/machine/bare-machine.js';
import { VmcsField as F } from '../../emulator/vmx/fields.js';
import type { Hypervisor } from '../hypervisor.js';
import type { Vcpu } from '../vcpu.js';
import type { Vm } from '../vm.js';

/** A segment register's selector and cached descriptor. */
export interface SegmentState {
  selector: number;
  base: number;
  limit: number;
  /** Access rights as the VMCS holds them (type, S, DPL, P in 7:0; AVL, D/B, G in 15:12; bit 16 unusable). */
  attr: number;
}

export const SEGMENT_NAMES = ['es', 'cs', 'ss', 'ds', 'fs', 'gs', 'ldtr', 'tr'] as const;
export const GPR_NAMES = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'] as const;

export interface DebugTarget {
  readonly id: number;
  readonly name: string;
  readonly cpu: Cpu;
  getGpr(i: number): number;
  setGpr(i: number, v: number): void;
  eip: number;
  eflags: number;
  segment(s: number): SegmentState;
  /** CR0 as the guest sees it (read shadows applied), CR2, CR3, CR4. */
  cr(n: 0 | 2 | 3 | 4): number;
  gdt(): { base: number; limit: number };
  idt(): { base: number; limit: number };
  /** Guest-physical RAM bytes, or null when any byte is outside RAM (never a device access). */
  readPhys(gpa: number, length: number): Uint8Array | null;
  /** Writes guest-physical RAM; false (and nothing written) when any byte is outside RAM. */
  writePhys(gpa: number, bytes: Uint8Array): boolean;
  /** Guest-physical address of a host-physical one the processor used (data hooks), or null. */
  guestPhysical(hostPhysical: number): number | null;
  /** Instructions the guest has retired (and the hypervisor emulated for it) so far. */
  retired(): number;
  /** The guest is on the processor right now (inside a debugger hook). */
  readonly onCpu: boolean;
  /** Why the guest can run no more, or null. */
  stopped(): string | null;
  /** The same, with what the guest's end means for a debugger's exit report, or null. */
  ending(): TargetEnding | null;
  readonly vcpu: Vcpu | null;
  readonly vm: Vm | null;
}

/**
 * How a guest ended. `status`: what it exited with (isa-debug-exit, SHUTDOWN), or null when it did
 * not exit by itself. `fault`: it was stopped by a fault (a triple fault, a crash), which GDB reports
 * as a signal.
 */
export interface TargetEnding {
  why: string;
  status: number | null;
  fault: boolean;
}

const u32 = (v: number): number => v >>> 0;

/** The bare machine: the processor's own state. */
export class BareTarget implements DebugTarget {
  readonly id = 0;
  readonly name = 'bare';
  readonly cpu: Cpu;
  readonly vcpu = null;
  readonly vm = null;
  readonly onCpu = true;
  /** Set by the debugger when the machine stops for good. */
  end: TargetEnding | null = null;
  constructor(readonly machine: BareMachine) { this.cpu = machine.cpu; }
  getGpr(i: number): number { return u32(this.cpu.r[i]!); }
  setGpr(i: number, v: number): void { this.cpu.r[i] = v | 0; }
  get eip(): number { return u32(this.cpu.eip); }
  set eip(v: number) { this.cpu.eip = v | 0; }
  get eflags(): number { return u32(this.cpu.eflags); }
  set eflags(v: number) { this.cpu.eflags = v; }
  segment(s: number): SegmentState {
    const c = this.cpu;
    return { selector: c.segSel[s]! & 0xffff, base: u32(c.segBase[s]!), limit: u32(c.segLimit[s]!), attr: c.segAttr[s]! & 0x1f0ff };
  }
  cr(n: 0 | 2 | 3 | 4): number {
    const m = this.cpu.mmu;
    return u32(n === 0 ? m.cr0 : n === 2 ? m.cr2 : n === 3 ? m.cr3 : m.cr4);
  }
  gdt(): { base: number; limit: number } { return { base: u32(this.cpu.gdtBase), limit: this.cpu.gdtLimit }; }
  idt(): { base: number; limit: number } { return { base: u32(this.cpu.idtBase), limit: this.cpu.idtLimit }; }
  readPhys(gpa: number, length: number): Uint8Array | null {
    const mem = this.cpu.mem;
    if (gpa < 0 || length < 0 || gpa + length > mem.ramSize) return null;
    for (let i = 0; i < length; i += 4096) if (!mem.isRam(gpa + i)) return null;
    if (length > 0 && !mem.isRam(gpa + length - 1)) return null;
    return mem.u8.slice(gpa, gpa + length);
  }
  writePhys(gpa: number, bytes: Uint8Array): boolean {
    if (this.readPhys(gpa, bytes.length) === null) return false;
    for (let i = 0; i < bytes.length; i++) this.cpu.mem.write8(gpa + i, bytes[i]!); // invalidates decoded code
    return true;
  }
  guestPhysical(hostPhysical: number): number | null { return hostPhysical; }
  retired(): number { return this.cpu.icount; }
  stopped(): string | null { return this.end?.why ?? null; }
  ending(): TargetEnding | null { return this.end; }
}

const SEG_FIELDS = ['ES', 'CS', 'SS', 'DS', 'FS', 'GS', 'LDTR', 'TR'] as const;
const field = (name: string): number => (F as unknown as Record<string, number>)[name]!;

/** One VM under the hypervisor. */
export class VmTarget implements DebugTarget {
  readonly cpu: Cpu;
  readonly vcpu: Vcpu;
  constructor(readonly hv: Hypervisor, readonly vm: Vm) {
    this.cpu = hv.cpu;
    this.vcpu = hv.vcpuOf(vm);
  }
  get id(): number { return this.vm.id; }
  get name(): string { return this.vm.name; }
  /** Inside a debugger hook while this VM runs, the processor holds its registers. */
  get onCpu(): boolean { return this.cpu.vmx.nonRoot && this.cpu.vmx.currentVmcs === this.vcpu.vmcs.address; }
  getGpr(i: number): number {
    if (this.onCpu) return u32(this.cpu.r[i]!);
    return u32(i === 4 ? this.vcpu.vmcs.read(F.GUEST_RSP) : this.vcpu.regs[i]!);
  }
  setGpr(i: number, v: number): void {
    this.vcpu.regs[i] = v | 0;
    if (i === 4) this.vcpu.vmcs.write(F.GUEST_RSP, v >>> 0);
  }
  get eip(): number { return this.onCpu ? u32(this.cpu.eip) : u32(this.vcpu.rip); }
  set eip(v: number) { this.vcpu.rip = v >>> 0; }
  get eflags(): number { return this.onCpu ? u32(this.cpu.eflags) : u32(this.vcpu.rflags); }
  set eflags(v: number) { this.vcpu.vmcs.write(F.GUEST_RFLAGS, ((v & 0x3f7fd5) | 2) >>> 0); }
  segment(s: number): SegmentState {
    if (this.onCpu) {
      const c = this.cpu;
      return { selector: c.segSel[s]! & 0xffff, base: u32(c.segBase[s]!), limit: u32(c.segLimit[s]!), attr: c.segAttr[s]! & 0x1f0ff };
    }
    const v = this.vcpu.vmcs, n = SEG_FIELDS[s]!;
    return {
      selector: v.read(field(`GUEST_${n}_SELECTOR`)) & 0xffff, base: u32(v.read(field(`GUEST_${n}_BASE`))),
      limit: u32(v.read(field(`GUEST_${n}_LIMIT`))), attr: v.read(field(`GUEST_${n}_AR_BYTES`)) & 0x1f0ff,
    };
  }
  cr(n: 0 | 2 | 3 | 4): number {
    const v = this.vcpu.vmcs;
    const shadowed = (value: number, mask: number, shadow: number): number => u32((value & ~mask) | (shadow & mask));
    if (n === 0) return shadowed(this.onCpu ? this.cpu.mmu.cr0 : v.read(F.GUEST_CR0), v.read(F.CR0_GUEST_HOST_MASK), v.read(F.CR0_READ_SHADOW));
    if (n === 4) return shadowed(this.onCpu ? this.cpu.mmu.cr4 : v.read(F.GUEST_CR4), v.read(F.CR4_GUEST_HOST_MASK), v.read(F.CR4_READ_SHADOW));
    if (n === 3) return u32(this.onCpu ? this.cpu.mmu.cr3 : v.read(F.GUEST_CR3));
    return u32(this.onCpu ? this.cpu.mmu.cr2 : this.vcpu.cr2);
  }
  /** The CR0/CR4 the processor uses for the guest (paging decisions). */
  realCr(n: 0 | 4): number {
    if (this.onCpu) return u32(n === 0 ? this.cpu.mmu.cr0 : this.cpu.mmu.cr4);
    return u32(this.vcpu.vmcs.read(n === 0 ? F.GUEST_CR0 : F.GUEST_CR4));
  }
  gdt(): { base: number; limit: number } {
    if (this.onCpu) return { base: u32(this.cpu.gdtBase), limit: this.cpu.gdtLimit };
    return { base: u32(this.vcpu.vmcs.read(F.GUEST_GDTR_BASE)), limit: this.vcpu.vmcs.read(F.GUEST_GDTR_LIMIT) };
  }
  idt(): { base: number; limit: number } {
    if (this.onCpu) return { base: u32(this.cpu.idtBase), limit: this.cpu.idtLimit };
    return { base: u32(this.vcpu.vmcs.read(F.GUEST_IDTR_BASE)), limit: this.vcpu.vmcs.read(F.GUEST_IDTR_LIMIT) };
  }
  readPhys(gpa: number, length: number): Uint8Array | null {
    return this.vm.ram.contains(gpa, length) ? this.vm.ram.bytes(gpa, length) : null;
  }
  writePhys(gpa: number, bytes: Uint8Array): boolean {
    if (!this.vm.ram.contains(gpa, bytes.length)) return false;
    const host = this.vm.ram.hostBase + gpa;
    for (let i = 0; i < bytes.length; i++) this.cpu.mem.write8(host + i, bytes[i]!);
    return true;
  }
  guestPhysical(hostPhysical: number): number | null {
    const gpa = hostPhysical - this.vm.ram.hostBase;
    return gpa >= 0 && gpa < this.vm.ram.size ? gpa : null;
  }
  retired(): number {
    const inside = this.onCpu ? this.cpu.icount - this.cpu.vmx.entryIcount : 0;
    return this.vcpu.executed + this.vcpu.emulated + inside;
  }
  stopped(): string | null {
    return this.ending()?.why ?? null;
  }
  ending(): TargetEnding | null {
    const s = this.vm.stop;
    if (s === null) return null;
    if (s.kind === 'exit') return { why: `exited with status ${s.status}`, status: s.status, fault: false };
    if (s.kind === 'crash') return { why: `crashed: ${s.reason}`, status: null, fault: true };
    return { why: s.kind, status: null, fault: s.kind === 'triple-fault' };
  }
}

export const SEGMENT_INDEX: Record<string, number> = { es: SegReg.ES, cs: SegReg.CS, ss: SegReg.SS, ds: SegReg.DS, fs: SegReg.FS, gs: SegReg.GS };

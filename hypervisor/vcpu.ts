/**
 * A virtual CPU: its VMCS (in host-physical memory), the general registers the processor does not
 * keep in the VMCS (saved on every exit, as KVM saves them), the injection of pending virtual
 * interrupts, and access to the guest's view of memory (its own paging, then EPT).
 */
import type { Cpu } from '../emulator/cpu/cpu.js';
import { CAPABILITY, Pin, Proc, Proc2, VMCS_REVISION } from '../emulator/vmx/controls.js';
import { VmcsField as F } from '../emulator/vmx/fields.js';
import { VmcsRegion } from '../emulator/vmx/vmcs.js';
import { PAGE, type FrameAllocator } from './memory.js';
import type { Vm } from './vm.js';

const CR0_PE = 1, CR0_ET = 0x10, CR0_NE = 0x20, CR0_PG = 0x80000000;
const CR4_PSE = 0x10, CR4_VMXE = 0x2000;
const RFLAGS_IF = 0x200;

/** Host state the hypervisor programs into every VMCS (it never runs host x86 code). */
export interface HostState {
  cr0: number; cr3: number; cr4: number;
  gdtBase: number; idtBase: number; trBase: number;
}

/** Where a guest linear address leads: a guest-physical address, or the #PF the guest would take. */
export type Translation = { gpa: number } | { pageFault: number };

export class Vcpu {
  readonly vmcs: VmcsRegion;
  /** EAX..EDI while the vCPU is not on the processor (ESP lives in the VMCS). */
  readonly regs = new Int32Array(8);
  cr2 = 0;
  launched = false;
  /** Halted by HLT (FV) or BLOCK (PV): waits for an interrupt or event. */
  halted = false;
  /** Guest instructions executed (the scheduler charges these). */
  executed = 0;
  /** Guest instructions emulated by the hypervisor (each charged as one instruction of time). */
  emulated = 0;
  /**
   * Wall ns spent in VM entry, the guest and VM exit (`vmx.enter`), for the benchmarks' split of
   * an exit's cost between the processor, the handlers (Vm.exitStats) and the run loop; sampled
   * like the handler times (EXIT_TIMING_SAMPLE in hypervisor.ts). `entries` counts the entries.
   */
  enterNs = 0;
  /** VM entries, also those of the exit fast path (which happen inside `vmx.enter`). */
  entries = 0;
  /** Calls of `vmx.enter` (the sampling of enterNs counts these). */
  enterCalls = 0;
  /** The fast path's handler time, inside enterNs (sampled as Vm.exitStats). */
  fastHandlerNs = 0;

  constructor(readonly vm: Vm, cpu: Cpu, frames: FrameAllocator, host: HostState, ioBitmaps: [number, number], msrBitmap: number) {
    const addr = frames.allocate(PAGE);
    cpu.mem.write32(addr, VMCS_REVISION);
    this.vmcs = new VmcsRegion(cpu.mem, addr);
    this.writeControls(ioBitmaps, msrBitmap);
    this.writeHost(host);
  }

  private writeControls(ioBitmaps: [number, number], msrBitmap: number): void {
    const v = this.vmcs;
    v.write(F.PIN_BASED_VM_EXEC_CONTROL, CAPABILITY.pin.must1 | Pin.PREEMPTION_TIMER);
    v.write(F.CPU_BASED_VM_EXEC_CONTROL, CAPABILITY.proc.must1 | Proc.HLT_EXITING | Proc.USE_IO_BITMAPS
      | Proc.USE_MSR_BITMAPS | Proc.USE_TSC_OFFSETTING | Proc.ACTIVATE_SECONDARY_CONTROLS);
    v.write(F.SECONDARY_VM_EXEC_CONTROL, Proc2.ENABLE_EPT | Proc2.UNRESTRICTED_GUEST | Proc2.ENABLE_VPID | Proc2.ENABLE_RDTSCP);
    v.write(F.VIRTUAL_PROCESSOR_ID, this.vm.id + 1);
    v.write(F.VM_EXIT_CONTROLS, CAPABILITY.exit.must1 | (1 << 22)); // save the preemption timer
    v.write(F.VM_ENTRY_CONTROLS, CAPABILITY.entry.must1);
    v.write(F.IO_BITMAP_A, ioBitmaps[0]);
    v.write(F.IO_BITMAP_B, ioBitmaps[1]);
    v.write(F.MSR_BITMAP, msrBitmap);
    v.write64(F.EPT_POINTER, this.vm.ept.pointer);
    v.write(F.EXCEPTION_BITMAP, 0);
    // The guest owns CR0 and CR4 except NE (VMX needs it set) and VMXE (hidden: no nested VMX).
    v.write(F.CR0_GUEST_HOST_MASK, CR0_NE);
    v.write(F.CR4_GUEST_HOST_MASK, CR4_VMXE);
    v.write64(F.VMCS_LINK_POINTER, 0xffffffffffffffffn);
  }

  private writeHost(h: HostState): void {
    const v = this.vmcs;
    v.write(F.HOST_CR0, h.cr0); v.write(F.HOST_CR3, h.cr3); v.write(F.HOST_CR4, h.cr4);
    v.write(F.HOST_CS_SELECTOR, 0x08);
    for (const f of [F.HOST_SS_SELECTOR, F.HOST_DS_SELECTOR, F.HOST_ES_SELECTOR, F.HOST_FS_SELECTOR, F.HOST_GS_SELECTOR]) v.write(f, 0x10);
    v.write(F.HOST_TR_SELECTOR, 0x18);
    v.write(F.HOST_TR_BASE, h.trBase);
    v.write(F.HOST_GDTR_BASE, h.gdtBase);
    v.write(F.HOST_IDTR_BASE, h.idtBase);
  }

  /**
   * The state a Multiboot loader leaves (spec 3.2): protected mode, flat 4 GiB segments, paging
   * off, interrupts off, EAX = magic, EBX = the information structure.
   */
  resetMultiboot(entry: number, eax: number, ebx: number, tscOffset: bigint): void {
    const v = this.vmcs;
    v.write(F.GUEST_CR0, CR0_PE | CR0_ET | CR0_NE);
    v.write(F.CR0_READ_SHADOW, CR0_PE | CR0_ET | CR0_NE);
    v.write(F.GUEST_CR3, 0);
    v.write(F.GUEST_CR4, CR4_VMXE);
    v.write(F.CR4_READ_SHADOW, 0);
    const seg = (s: string, sel: number, ar: number): void => {
      const f = F as unknown as Record<string, number>;
      v.write(f[`GUEST_${s}_SELECTOR`]!, sel);
      v.write(f[`GUEST_${s}_BASE`]!, 0);
      v.write(f[`GUEST_${s}_LIMIT`]!, 0xffffffff);
      v.write(f[`GUEST_${s}_AR_BYTES`]!, ar);
    };
    seg('CS', 0x08, 0xc09b);
    for (const s of ['SS', 'DS', 'ES', 'FS', 'GS']) seg(s, 0x10, 0xc093);
    v.write(F.GUEST_TR_SELECTOR, 0); v.write(F.GUEST_TR_BASE, 0); v.write(F.GUEST_TR_LIMIT, 0xffff); v.write(F.GUEST_TR_AR_BYTES, 0x8b);
    v.write(F.GUEST_LDTR_SELECTOR, 0); v.write(F.GUEST_LDTR_AR_BYTES, 0x10000);
    v.write(F.GUEST_GDTR_BASE, 0); v.write(F.GUEST_GDTR_LIMIT, 0xffff);
    v.write(F.GUEST_IDTR_BASE, 0); v.write(F.GUEST_IDTR_LIMIT, 0x3ff);
    v.write(F.GUEST_RFLAGS, 2);
    v.write(F.GUEST_RIP, entry);
    v.write(F.GUEST_RSP, 0);
    v.write(F.GUEST_ACTIVITY_STATE, 0);
    v.write(F.GUEST_INTERRUPTIBILITY_INFO, 0);
    v.write(F.GUEST_DR7, 0x400);
    v.write64(F.TSC_OFFSET, tscOffset);
    this.regs.fill(0);
    this.regs[0] = eax;
    this.regs[3] = ebx;
  }

  get rip(): number { return this.vmcs.read(F.GUEST_RIP); }
  set rip(v: number) { this.vmcs.write(F.GUEST_RIP, v); }
  get rflags(): number { return this.vmcs.read(F.GUEST_RFLAGS); }

  /** Moves the guest's registers onto the processor before VM entry. */
  load(cpu: Cpu): void {
    for (let i = 0; i < 8; i++) if (i !== 4) cpu.r[i] = this.regs[i]!;
    cpu.mmu.cr2 = this.cr2;
  }

  /** Takes them back after VM exit. */
  save(cpu: Cpu): void {
    for (let i = 0; i < 8; i++) if (i !== 4) this.regs[i] = cpu.r[i]!;
    this.regs[4] = this.vmcs.read(F.GUEST_RSP);
    this.cr2 = cpu.mmu.cr2;
  }

  /** Skips the instruction that exited. */
  skipInstruction(): void {
    this.rip = (this.rip + this.vmcs.read(F.VM_EXIT_INSTRUCTION_LEN)) >>> 0;
    this.emulated++;
    // An emulated instruction ends an STI or MOV SS shadow, as executing it would have.
    const intr = this.vmcs.read(F.GUEST_INTERRUPTIBILITY_INFO);
    if (intr & 3) this.vmcs.write(F.GUEST_INTERRUPTIBILITY_INFO, intr & ~3);
  }

  /** Queues a hardware exception for the next VM entry. */
  injectException(vector: number, errorCode?: number): void {
    const info = 0x80000000 | (3 << 8) | vector | (errorCode !== undefined ? 0x800 : 0);
    this.vmcs.write(F.VM_ENTRY_INTR_INFO_FIELD, info >>> 0);
    if (errorCode !== undefined) this.vmcs.write(F.VM_ENTRY_EXCEPTION_ERROR_CODE, errorCode);
  }

  /**
   * Before every VM entry: re-inject an event whose delivery the last exit interrupted; else, if
   * the VM has an interrupt pending, inject it when the guest can take it (IF = 1, no STI or MOV SS
   * shadow), or ask for an interrupt-window exit for the moment it can.
   */
  prepareEntry(): void {
    const v = this.vmcs;
    const vectoring = v.read(F.IDT_VECTORING_INFO_FIELD);
    if (vectoring >>> 31) {
      v.write(F.VM_ENTRY_INTR_INFO_FIELD, vectoring & ~0x1000);
      v.write(F.VM_ENTRY_EXCEPTION_ERROR_CODE, v.read(F.IDT_VECTORING_ERROR_CODE));
      v.write(F.VM_ENTRY_INSTRUCTION_LEN, v.read(F.VM_EXIT_INSTRUCTION_LEN));
      v.write(F.IDT_VECTORING_INFO_FIELD, 0);
      return;
    }
    if (v.read(F.VM_ENTRY_INTR_INFO_FIELD) >>> 31) return; // an exception is already queued
    const proc = v.read(F.CPU_BASED_VM_EXEC_CONTROL);
    if (!this.vm.hasPendingInterrupt()) {
      if (proc & Proc.INTERRUPT_WINDOW_EXITING) v.write(F.CPU_BASED_VM_EXEC_CONTROL, proc & ~Proc.INTERRUPT_WINDOW_EXITING);
      return;
    }
    const open = (this.rflags & RFLAGS_IF) !== 0 && (v.read(F.GUEST_INTERRUPTIBILITY_INFO) & 3) === 0;
    if (open) {
      const vector = this.vm.acknowledgeInterrupt();
      v.write(F.VM_ENTRY_INTR_INFO_FIELD, (0x80000000 | vector) >>> 0);
      v.write(F.CPU_BASED_VM_EXEC_CONTROL, proc & ~Proc.INTERRUPT_WINDOW_EXITING);
      this.halted = false;
      v.write(F.GUEST_ACTIVITY_STATE, 0);
    } else {
      v.write(F.CPU_BASED_VM_EXEC_CONTROL, proc | Proc.INTERRUPT_WINDOW_EXITING);
    }
  }

  /** Can a halted vCPU wake (an interrupt it will take), or is it halted for good (IF = 0)? */
  wakeable(): 'now' | 'later' | 'never' {
    if (!(this.rflags & RFLAGS_IF)) return 'never';
    return this.vm.hasPendingInterrupt() ? 'now' : 'later';
  }

  /** A segment's base from the VMCS (0 ES .. 5 GS). */
  segmentBase(seg: number): number {
    return this.vmcs.read([F.GUEST_ES_BASE, F.GUEST_CS_BASE, F.GUEST_SS_BASE, F.GUEST_DS_BASE, F.GUEST_FS_BASE, F.GUEST_GS_BASE][seg]!);
  }

  /** Current privilege level (SS.DPL; 3 in virtual-8086 mode). */
  get cpl(): number {
    if (this.rflags & 0x20000) return 3;
    return (this.vmcs.read(F.GUEST_SS_AR_BYTES) >>> 5) & 3;
  }

  /**
   * A guest linear address through the guest's own paging (CR0.PG, 4 KiB and 4 MiB pages), as
   * the hypervisor's instruction emulation needs it. Accessed/dirty bits are set as hardware would.
   */
  translate(linear: number, write: boolean): Translation {
    linear >>>= 0;
    const cr0 = this.vmcs.read(F.GUEST_CR0), cr4 = this.vmcs.read(F.GUEST_CR4);
    if (!(cr0 & CR0_PG)) return { gpa: linear };
    const ram = this.vm.ram;
    const user = this.cpl === 3;
    const err = (present: boolean) => ({ pageFault: (present ? 1 : 0) | (write ? 2 : 0) | (user ? 4 : 0) });
    const pdeAddr = (this.vmcs.read(F.GUEST_CR3) & ~0xfff) + (linear >>> 22) * 4;
    if (!ram.contains(pdeAddr, 4)) return err(false);
    const pde = ram.read32(pdeAddr);
    if (!(pde & 1)) return err(false);
    const wp = (cr0 & 0x10000) !== 0;
    const allowed = (e: number) => !((user && !(e & 4)) || (write && !(e & 2) && (user || wp)));
    if (pde & 0x80 && cr4 & CR4_PSE) {
      if (!allowed(pde)) return err(true);
      ram.write32(pdeAddr, pde | 0x20 | (write ? 0x40 : 0));
      return { gpa: ((pde & 0xffc00000) | (linear & 0x3fffff)) >>> 0 };
    }
    const pteAddr = (pde & ~0xfff) + ((linear >>> 12) & 0x3ff) * 4;
    if (!ram.contains(pteAddr, 4)) return err(false);
    const pte = ram.read32(pteAddr);
    if (!(pte & 1)) return err(false);
    if (!allowed(pde & pte)) return err(true);
    ram.write32(pdeAddr, pde | 0x20);
    ram.write32(pteAddr, pte | 0x20 | (write ? 0x40 : 0));
    return { gpa: ((pte & ~0xfff) | (linear & 0xfff)) >>> 0 };
  }
}

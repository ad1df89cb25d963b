/**
 * A root-mode host for VMX tests, driven through the TypeScript API (`cpu.vmx`), as the hypervisor
 * drives it: the host runs in flat protected mode with paging (4 MiB identity pages), VMX is on,
 * one VMCS is current, and a guest gets 2 MiB of guest-physical memory at host-physical 4 MiB
 * through a 4-level EPT with 4 KiB pages (so tests can change one page's permissions).
 *
 * Guest code is written in assembly and built with the project's assembler. After a VM exit the
 * CPU is in host state; the guest's general registers (other than ESP) are still in `cpu.r`, as on
 * real hardware, where a VM exit does not switch them.
 */
import { assemble } from '../../assembler/index.js';
import { Cpu } from '../../emulator/cpu/cpu.js';
import { writeMsr } from '../../emulator/cpu/msr.js';
import { enterFlatProtectedMode, SegReg } from '../../emulator/cpu/segments.js';
import { CAPABILITY, Proc, Proc2, VMCS_REVISION } from '../../emulator/vmx/controls.js';
import { VmcsField as F } from '../../emulator/vmx/fields.js';
import type { VmcsRegion } from '../../emulator/vmx/vmcs.js';
import type { EnterResult, VmExit } from '../../emulator/vmx/vmx.js';

export const RAM = 16 << 20;
export const HOST = {
  GDT: 0x1000, PD: 0x2000, VMXON: 0x3000, VMCS: 0x4000, IO_A: 0x5000, IO_B: 0x6000, MSR_BITMAP: 0x7000,
  EPT_PML4: 0x8000, EPT_PDPT: 0x9000, EPT_PD: 0xa000, EPT_PT: 0xb000, EPT_PT2: 0xc000, CODE: 0x10000, STACK: 0x20000,
  /** A host page no guest map ever includes (isolation tests look for it). */
  SECRET: 0x30000,
  /** Host IDT: every exception vector runs a stub that stores the vector at EXCEPTION and halts. */
  IDT: 0xd000, EXCEPTION: 0xd800, STUBS: 0xe000,
} as const;
/** Guest-physical 0 is host-physical GUEST_BASE; the guest has GUEST_SIZE bytes. */
export const GUEST_BASE = 0x400000;
export const GUEST_SIZE = 0x200000;
/** Where guest code is loaded (guest-physical), its stack, and its GDT/IDT. */
export const GUEST = { CODE: 0x1000, STACK: 0x9000, GDT: 0x100, IDT: 0x800, DATA: 0x10000 } as const;

export const EPT_R = 1, EPT_W = 2, EPT_X = 4, EPT_RWX = 7;
const EPT_WB = 6 << 3;

export interface HostOptions {
  engine?: 'blocks' | 'interpret';
  /** Extra primary / secondary controls on top of the defaults (HLT exiting, EPT, unrestricted guest). */
  proc?: number;
  proc2?: number;
  pin?: number;
}

export class VmxHost {
  readonly cpu: Cpu;
  readonly vmcs: VmcsRegion;

  constructor(options: HostOptions = {}) {
    const cpu = this.cpu = new Cpu({ ramSize: RAM });
    cpu.engine = options.engine ?? 'interpret';
    const mem = cpu.mem;
    this.writeHostTables();
    this.enterRootState();
    cpu.vmx.reset();
    writeMsr(cpu, 0x3a, 5n); // IA32_FEATURE_CONTROL: lock, VMX outside SMX
    mem.write32(HOST.VMXON, VMCS_REVISION);
    mem.write32(HOST.VMCS, VMCS_REVISION);
    const vmx = cpu.vmx;
    expectOk(vmx.vmxon(BigInt(HOST.VMXON)), 'VMXON');
    expectOk(vmx.vmclear(BigInt(HOST.VMCS)), 'VMCLEAR');
    expectOk(vmx.vmptrld(BigInt(HOST.VMCS)), 'VMPTRLD');
    this.vmcs = vmx.vmcs!;
    this.buildEpt();
    this.writeControls(options);
    this.writeHostState();
    this.writeGuestState();
  }

  /** Host GDT, TSS, page directory, IDT and exception stubs in host memory. */
  private writeHostTables(): void {
    const mem = this.cpu.mem;
    // Host GDT: null, code 0x08, data 0x10, TSS 0x18.
    mem.write32(HOST.GDT + 8, 0x0000ffff); mem.write32(HOST.GDT + 12, 0x00cf9b00);
    mem.write32(HOST.GDT + 16, 0x0000ffff); mem.write32(HOST.GDT + 20, 0x00cf9300);
    mem.write32(HOST.GDT + 24, 0x00000067); mem.write32(HOST.GDT + 28, 0x00008b00);
    // Host TSS at physical 0 (ring-0 stack for exceptions taken at CPL 3).
    mem.write32(4, HOST.STACK - 0x1000); mem.write32(8, 0x10);
    for (let i = 0; i < 4; i++) mem.write32(HOST.PD + i * 4, (i << 22) | 0x87); // 4 MiB, present, writable, user
    mem.write8(HOST.CODE, 0xf4); // the host's "exit handler" is a HLT the tests never reach
    for (let v = 0; v < 32; v++) {
      const stub = HOST.STUBS + v * 8;
      mem.u8.set([0xc6, 0x05, ...le32(HOST.EXCEPTION), v, 0xf4], stub); // mov byte [EXCEPTION], v; hlt
      mem.write32(HOST.IDT + v * 8, (0x08 << 16) | (stub & 0xffff));
      mem.write32(HOST.IDT + v * 8 + 4, (stub & 0xffff0000) | 0x8e00);
    }
    mem.write8(HOST.EXCEPTION, 0xff);
  }

  /**
   * The host's root-mode CPU state: flat ring-0 segments, paging on with VMXE, GDT/IDT/TR, stack
   * and EIP (also used to put the host back after a fuzzed VMCS loaded a random host state).
   */
  enterRootState(): void {
    const cpu = this.cpu;
    enterFlatProtectedMode(cpu);
    cpu.gdtBase = HOST.GDT; cpu.gdtLimit = 31;
    cpu.idtBase = HOST.IDT; cpu.idtLimit = 32 * 8 - 1;
    cpu.segSel[SegReg.TR] = 0x18; cpu.segBase[SegReg.TR] = 0; cpu.segLimit[SegReg.TR] = 0x67; cpu.segAttr[SegReg.TR] = 0x8b;
    cpu.segSel[SegReg.LDTR] = 0; cpu.segBase[SegReg.LDTR] = 0; cpu.segLimit[SegReg.LDTR] = 0;
    cpu.mmu.cr3 = HOST.PD;
    cpu.mmu.cr4 = 0x10 | 0x2000; // PSE, VMXE
    cpu.mmu.cr0 = 0x80000031; // PG NE ET PE
    cpu.mmu.flush();
    cpu.lf.load(2);
    cpu.dr[7] = 0x400;
    cpu.updateDebugState();
    cpu.interruptShadow = false; cpu.movSsShadow = false; cpu.halted = false;
    cpu.r[4] = HOST.STACK;
    cpu.eip = cpu.nextEip = HOST.CODE;
  }

  /** EPT: guest-physical [0, 2 MiB) -> host-physical [4 MiB, 6 MiB) in 4 KiB pages, RWX, WB. */
  private buildEpt(): void {
    const mem = this.cpu.mem;
    mem.write32(HOST.EPT_PML4, HOST.EPT_PDPT | EPT_RWX);
    mem.write32(HOST.EPT_PDPT, HOST.EPT_PD | EPT_RWX);
    mem.write32(HOST.EPT_PD, HOST.EPT_PT | EPT_RWX);
    for (let i = 0; i < 512; i++) mem.write32(HOST.EPT_PT + i * 8, (GUEST_BASE + i * 4096) | EPT_WB | EPT_RWX);
    this.vmcs.write64(F.EPT_POINTER, BigInt(HOST.EPT_PML4 | 6 | (3 << 3) | (1 << 6)));
  }

  /** Sets the EPT permissions (and optionally the frame) of one guest-physical 4 KiB page. */
  setEptPage(gpa: number, perms: number, hostFrame = GUEST_BASE + (gpa & ~0xfff)): void {
    if (gpa >= GUEST_SIZE) throw new Error('setEptPage: outside the guest map');
    this.cpu.mem.write32(HOST.EPT_PT + (gpa >>> 12) * 8, (hostFrame & ~0xfff) | EPT_WB | perms);
    this.cpu.mmu.flush();
  }

  /** The EPT entry of a guest-physical page (for accessed/dirty flag checks). */
  eptEntry(gpa: number): number {
    return this.cpu.mem.read32(HOST.EPT_PT + (gpa >>> 12) * 8) >>> 0;
  }

  private writeControls(o: HostOptions): void {
    const v = this.vmcs;
    v.write(F.PIN_BASED_VM_EXEC_CONTROL, CAPABILITY.pin.must1 | (o.pin ?? 0));
    v.write(F.CPU_BASED_VM_EXEC_CONTROL, CAPABILITY.proc.must1 | Proc.HLT_EXITING | Proc.ACTIVATE_SECONDARY_CONTROLS | (o.proc ?? 0));
    v.write(F.SECONDARY_VM_EXEC_CONTROL, Proc2.ENABLE_EPT | Proc2.UNRESTRICTED_GUEST | (o.proc2 ?? 0));
    v.write(F.VM_EXIT_CONTROLS, CAPABILITY.exit.must1);
    v.write(F.VM_ENTRY_CONTROLS, CAPABILITY.entry.must1);
    v.write(F.IO_BITMAP_A, HOST.IO_A);
    v.write(F.IO_BITMAP_B, HOST.IO_B);
    v.write(F.MSR_BITMAP, HOST.MSR_BITMAP);
    v.write(F.CR4_GUEST_HOST_MASK, 0x2000); // the guest does not see VMXE
    v.write(F.CR4_READ_SHADOW, 0);
    v.write64(F.VMCS_LINK_POINTER, 0xffffffffffffffffn);
  }

  private writeHostState(): void {
    const v = this.vmcs, c = this.cpu;
    v.write(F.HOST_CR0, c.mmu.cr0); v.write(F.HOST_CR3, c.mmu.cr3); v.write(F.HOST_CR4, c.mmu.cr4);
    v.write(F.HOST_CS_SELECTOR, 0x08);
    for (const f of [F.HOST_SS_SELECTOR, F.HOST_DS_SELECTOR, F.HOST_ES_SELECTOR, F.HOST_FS_SELECTOR, F.HOST_GS_SELECTOR]) v.write(f, 0x10);
    v.write(F.HOST_TR_SELECTOR, 0x18);
    v.write(F.HOST_GDTR_BASE, HOST.GDT);
    v.write(F.HOST_IDTR_BASE, HOST.IDT);
    v.write(F.HOST_RIP, HOST.CODE);
    v.write(F.HOST_RSP, HOST.STACK);
  }

  /** A flat 32-bit protected-mode guest, paging off (unrestricted guest), at GUEST.CODE. */
  private writeGuestState(): void {
    const v = this.vmcs;
    v.write(F.GUEST_CR0, 0x31); // NE ET PE
    v.write(F.GUEST_CR3, 0);
    v.write(F.GUEST_CR4, 0x2000);
    v.write(F.CR0_READ_SHADOW, 0x11);
    v.write(F.CR0_GUEST_HOST_MASK, 0);
    const seg = (sel: number, base: number, limit: number, ar: number, fields: [number, number, number, number]): void => {
      v.write(fields[0], sel); v.write(fields[1], base); v.write(fields[2], limit); v.write(fields[3], ar);
    };
    seg(0x08, 0, 0xffffffff, 0xc09b, [F.GUEST_CS_SELECTOR, F.GUEST_CS_BASE, F.GUEST_CS_LIMIT, F.GUEST_CS_AR_BYTES]);
    for (const s of ['SS', 'DS', 'ES', 'FS', 'GS'] as const) {
      seg(0x10, 0, 0xffffffff, 0xc093, [F[`GUEST_${s}_SELECTOR`], F[`GUEST_${s}_BASE`], F[`GUEST_${s}_LIMIT`], F[`GUEST_${s}_AR_BYTES`]]);
    }
    seg(0x18, 0x200, 0x67, 0x8b, [F.GUEST_TR_SELECTOR, F.GUEST_TR_BASE, F.GUEST_TR_LIMIT, F.GUEST_TR_AR_BYTES]);
    seg(0, 0, 0, 0x10000, [F.GUEST_LDTR_SELECTOR, F.GUEST_LDTR_BASE, F.GUEST_LDTR_LIMIT, F.GUEST_LDTR_AR_BYTES]);
    // Guest GDT (same layout as the host's) and an empty IDT the tests fill when they need one.
    const g = GUEST.GDT;
    this.writeGuest32(g + 8, 0x0000ffff); this.writeGuest32(g + 12, 0x00cf9b00);
    this.writeGuest32(g + 16, 0x0000ffff); this.writeGuest32(g + 20, 0x00cf9300);
    this.writeGuest32(g + 24, 0x02000067); this.writeGuest32(g + 28, 0x00008b00);
    v.write(F.GUEST_GDTR_BASE, g); v.write(F.GUEST_GDTR_LIMIT, 31);
    v.write(F.GUEST_IDTR_BASE, GUEST.IDT); v.write(F.GUEST_IDTR_LIMIT, 0x7ff);
    v.write(F.GUEST_RFLAGS, 2);
    v.write(F.GUEST_RSP, GUEST.STACK);
    v.write(F.GUEST_RIP, GUEST.CODE);
  }

  writeGuest32(gpa: number, value: number): void { this.cpu.mem.write32(GUEST_BASE + gpa, value); }
  readGuest32(gpa: number): number { return this.cpu.mem.read32(GUEST_BASE + gpa) >>> 0; }
  readGuest8(gpa: number): number { return this.cpu.mem.read8(GUEST_BASE + gpa); }

  /** Assembles `source` (32-bit, org GUEST.CODE unless it says otherwise) into guest memory. */
  load(source: string, at: number = GUEST.CODE): Uint8Array {
    const { binary } = assemble(`bits 32\norg ${at}\n${source}\n`, { fileName: 'guest.asm' });
    this.cpu.mem.u8.set(binary, GUEST_BASE + at);
    this.cpu.flushDecodeCache(); // written behind the CPU's back: forget decoded code
    return binary;
  }

  /**
   * An IDT gate for `vector` at guest address `handler` (32-bit interrupt gate, DPL 3 so INT n
   * from any ring reaches it).
   */
  setGate(vector: number, handler: number): void {
    const at = GUEST.IDT + vector * 8;
    this.writeGuest32(at, (0x08 << 16) | (handler & 0xffff));
    this.writeGuest32(at + 4, (handler & 0xffff0000) | 0xee00);
  }

  /** VM entry (VMLAUNCH the first time, then VMRESUME) and run to the next exit. */
  enter(maxInstructions = 1_000_000): EnterResult {
    const launch = this.vmcs.launchState === 0;
    return this.cpu.vmx.enter(launch, maxInstructions);
  }

  /** Enters and expects a VM exit; returns it. */
  run(maxInstructions = 1_000_000): VmExit {
    const r = this.enter(maxInstructions);
    if (r.kind !== 'exit') throw new Error(`expected a VM exit, got ${JSON.stringify(r)} (${this.cpu.vmx.lastFailureDetail})`);
    return r.exit;
  }

  /** Skips the exiting instruction (as a handler does) so the next entry resumes after it. */
  skip(exit: VmExit): void {
    this.vmcs.write(F.GUEST_RIP, (exit.guestRip + exit.instructionLength) >>> 0);
  }
}

/** The vector of the last host exception (see HOST.STUBS), or null. */
export function hostException(h: VmxHost): number | null {
  const v = h.cpu.mem.read8(HOST.EXCEPTION);
  return v === 0xff ? null : v;
}

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
}

export function expectOk(status: { ok: boolean }, what: string): void {
  if (!status.ok) throw new Error(`${what} failed: ${JSON.stringify(status)}`);
}

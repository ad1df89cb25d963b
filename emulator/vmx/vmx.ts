/**
 * VMX operation of one logical processor (Intel SDM Vol. 3C chapters 24-31): VMX root and
 * non-root operation, the current-VMCS pointer, VM entry with its checks in the SDM's order, VM
 * exits with their reasons and qualifications, the execution controls that decide what exits,
 * event injection, the preemption timer, and EPT as the second level of address translation.
 *
 * Two ways in, one core. x86 code in root mode executes VMXON, VMLAUNCH and friends
 * (exec/vmx-instructions.ts calls `instruction`), and after a VM exit continues at HOST_RIP. A
 * hypervisor in TypeScript calls `enter()`, which performs the same VM entry, runs the guest and
 * returns the exit as a typed record.
 *
 * What an exit round trip costs. Every exit saves the guest state into the VMCS (comparing in
 * place, writing only what changed; segment registers only after one was loaded), so the region
 * is always what a debugger or snapshot should see. The processor also keeps copies: of the
 * controls it derives state from, and, for a TypeScript hypervisor that sets `deferHostState`
 * (it runs no host x86 code), of the whole guest, whose host state it loads only when root
 * operation is really needed. Bits in the region's verified word (fields.ts, HeldByProcessor)
 * say which copies are still good; a VMWRITE that changes a field clears the bit of every copy
 * made from it, so the next entry reloads exactly that.
 *
 * A VM exit raised inside an instruction (or a memory access, or event delivery) records its
 * information in `pending` and throws a CpuFault with vector VMEXIT_VECTOR; it unwinds to the
 * instruction boundary like any fault, where `Cpu.deliverEvent` hands it back to `completeExit`.
 */
import type { Cpu } from '../cpu/cpu.js';
import { CpuFault, Vector } from '../cpu/faults.js';
import { IF, RF, TF, VM } from '../cpu/flags.js';
import { loadStoredMsr32, readMsr, storedMsrLow32, writeMsr } from '../cpu/msr.js';
import { SegReg, SEG_ATTR_UNUSABLE } from '../cpu/segments.js';
import type { PhysicalTranslator } from '../cpu/mmu.js';
import {
  CAPABILITY, CR0_FIXED0, CR0_FIXED1, CR4_FIXED0, CR4_FIXED1, ExitCtl, ExitReason, Pin,
  PreemptionTimer, Proc, Proc2, VMCS_REVISION, VmInstructionError, type ControlCapability,
} from './controls.js';
import { EptWalker, validEptPointer, type EptAccess } from './ept.js';
import { EntryCheck, HeldByProcessor, lookupField, slotWord, VmcsField as F } from './fields.js';
import { LaunchState, VmcsRegion } from './vmcs.js';

/** The pseudo-vector a VM exit unwinds with (no IDT vector is this large). */
export const VMEXIT_VECTOR = 0x100;

const CR0_PE = 1, CR0_NE = 0x20, CR0_PG = 0x80000000;
const ERROR_CODE_VECTORS = new Set([8, 10, 11, 12, 13, 14, 17]);

/** What a VM exit reports (the exit-information fields, decoded). */
export interface VmExit {
  /** Basic exit reason (bit 31 clear); `entryFailure` marks reasons 33/34 from a failed entry. */
  reason: number;
  entryFailure: boolean;
  qualification: number;
  instructionLength: number;
  instructionInfo: number;
  guestLinearAddress: number;
  guestPhysicalAddress: number;
  /** VM-exit interruption information and error code (exception, NMI and interrupt exits). */
  interruptionInfo: number;
  interruptionErrorCode: number;
  /** IDT-vectoring information when the exit interrupted the delivery of an event. */
  idtVectoringInfo: number;
  idtVectoringErrorCode: number;
  /** Guest EIP saved in the VMCS. */
  guestRip: number;
}

/** Result of a VMX instruction's VMsucceed / VMfail (SDM 31.2). */
export type VmxStatus = { ok: true } | { ok: false; invalid: true } | { ok: false; invalid: false; error: number };

/** Outcome of `enter` (the TypeScript API). */
export type EnterResult =
  | { kind: 'exit'; exit: VmExit }
  | { kind: 'fail'; status: VmxStatus }
  | { kind: 'budget' }
  | { kind: 'halted' };

/**
 * What a hypervisor's fast exit handler (`Vmx.fastExit`) answers: a number >= 0 means it
 * emulated the instruction and the guest resumes at once, for at most that many instructions
 * (as `enter`'s `maxInstructions`), with the preemption timer (when on) firing after one fewer,
 * as a hypervisor's entry with `enter(launch, timer + 1)` arms it. The handler need not write
 * the timer to the VMCS for it: the timer is given here, and an exit that saves the preemption
 * timer (the exit control) stores what is left of it there.
 */
export const FastExit = {
  /** Not handled: the exit happens as always. */
  DECLINED: -1,
  /**
   * The instruction was emulated, but the hypervisor's run loop must prepare the next entry
   * (inject an interrupt, end the slice): the exit happens, after the instruction.
   */
  EXIT_AFTER: -2,
} as const;

/**
 * Exits a hypervisor completes inline (Vmx.inlineExits): a compiled block calls `inlineCpuid` in
 * place of CPUID's executor (block-compiler.ts), before any of the exit is done. True when the
 * handler emulated CPUID on the live registers and did all the fast path's work for the exit and
 * the entry after it, renewing the budget with `Vmx.resumeHeld`: the block goes on past the
 * instruction, which did not retire. False, with nothing done, when this exit must go the usual
 * way (the executor, then `fastExit`). The hypervisor answers true only in non-root operation,
 * between a fast exit that armed it and its next exit of any kind, when that exit's checks
 * (stopOnExit, no MSR stores, no MTF) held: nothing the processor does in between changes them.
 */
export interface InlineExits {
  inlineCpuid(): boolean;
  /** VMCALL, the same way (only the hypercalls that need nothing else). */
  inlineVmcall(): boolean;
  /**
   * IN and OUT (not string I/O) of `size` bytes at `port` (0-0xFFFF), from or to AL/AX/EAX, the
   * same way (only the accesses that need nothing else). The instruction's I/O permission check
   * comes first in the processor: these decline where it would need the TSS's bitmap.
   */
  inlineIn(port: number, size: 1 | 2 | 4): boolean;
  inlineOut(port: number, size: 1 | 2 | 4): boolean;
}

/** What became of an instruction's exit (Vmx.exitTaken), for the dispatcher that ran it. */
export const enum InstructionExit {
  NONE = 0,
  /** The exit happened: the host (or the run loop) continues at cpu.nextEip. */
  TAKEN = 1,
  /** The exit was completed in place: the guest continues at cpu.nextEip, after the instruction. */
  RESUMED = 2,
}

/** Signal used internally by the entry checks. */
class EntryFailure {
  constructor(readonly kind: 'control' | 'host' | 'guest' | 'msr', readonly detail: string, readonly qualification = 0) {}
}

function newExit(reason: number): VmExit {
  return {
    reason, entryFailure: false, qualification: 0, instructionLength: 0, instructionInfo: 0,
    guestLinearAddress: 0, guestPhysicalAddress: 0, interruptionInfo: 0, interruptionErrorCode: 0,
    idtVectoringInfo: 0, idtVectoringErrorCode: 0, guestRip: 0,
  };
}

/**
 * With EntryCheck.GUEST verified: the guest checks passed for a virtual-8086 guest (RFLAGS.VM
 * decides which segment checks apply, and RFLAGS changes at nearly every exit).
 */
const VERIFIED_V86 = 0x100;
const ALL_VERIFIED = EntryCheck.CONTROLS | EntryCheck.HOST | EntryCheck.GUEST;
const HELD = HeldByProcessor.CONTROLS | HeldByProcessor.GUEST;

/** Are all of `bits` set in `value` (unsigned compare: bit 31 included)? */
function hasAll(value: number, bits: number): boolean {
  return ((value & bits) >>> 0) === bits >>> 0;
}

/** Each segment register with its guest-state fields: selector, base, limit, access rights. */
const GUEST_SEGMENTS: readonly (readonly [number, number, number, number, number])[] = [
  [SegReg.ES, F.GUEST_ES_SELECTOR, F.GUEST_ES_BASE, F.GUEST_ES_LIMIT, F.GUEST_ES_AR_BYTES],
  [SegReg.CS, F.GUEST_CS_SELECTOR, F.GUEST_CS_BASE, F.GUEST_CS_LIMIT, F.GUEST_CS_AR_BYTES],
  [SegReg.SS, F.GUEST_SS_SELECTOR, F.GUEST_SS_BASE, F.GUEST_SS_LIMIT, F.GUEST_SS_AR_BYTES],
  [SegReg.DS, F.GUEST_DS_SELECTOR, F.GUEST_DS_BASE, F.GUEST_DS_LIMIT, F.GUEST_DS_AR_BYTES],
  [SegReg.FS, F.GUEST_FS_SELECTOR, F.GUEST_FS_BASE, F.GUEST_FS_LIMIT, F.GUEST_FS_AR_BYTES],
  [SegReg.GS, F.GUEST_GS_SELECTOR, F.GUEST_GS_BASE, F.GUEST_GS_LIMIT, F.GUEST_GS_AR_BYTES],
  [SegReg.LDTR, F.GUEST_LDTR_SELECTOR, F.GUEST_LDTR_BASE, F.GUEST_LDTR_LIMIT, F.GUEST_LDTR_AR_BYTES],
  [SegReg.TR, F.GUEST_TR_SELECTOR, F.GUEST_TR_BASE, F.GUEST_TR_LIMIT, F.GUEST_TR_AR_BYTES],
];

/** GUEST_SEGMENTS flat, by segment register (SegReg order): selector, base, limit, AR fields. */
const GUEST_SEGMENT_FIELDS: Int32Array = (() => {
  const t = new Int32Array(32);
  for (const [s, sel, base, limit, ar] of GUEST_SEGMENTS) t.set([sel, base, limit, ar], s * 4);
  return t;
})();
/** The guest-state fields every VM exit saves, in the order saveGuestState gathers their values. */
const SAVED_FIELDS: Int32Array = Int32Array.of(
  F.GUEST_CR0, F.GUEST_CR3, F.GUEST_CR4, F.GUEST_DR7, F.GUEST_RSP, F.GUEST_RIP, F.GUEST_RFLAGS,
  F.GUEST_GDTR_BASE, F.GUEST_GDTR_LIMIT, F.GUEST_IDTR_BASE, F.GUEST_IDTR_LIMIT,
  F.GUEST_INTERRUPTIBILITY_INFO, F.GUEST_ACTIVITY_STATE, F.GUEST_PENDING_DBG_EXCEPTIONS,
);
/** The segment registers' fields, saved when a segment changed: selectors, bases, limits, access rights, each in SegReg order. */
const SAVED_SEGMENT_FIELDS: Int32Array = Int32Array.from([0, 1, 2, 3].flatMap((k) => [...Array(8).keys()].map((s) => GUEST_SEGMENT_FIELDS[s * 4 + k]!)));
/** The exit-information fields every exit writes, in the order performExit gathers them. */
const EXIT_INFO_FIELDS: Int32Array = Int32Array.of(
  F.VM_EXIT_REASON, F.EXIT_QUALIFICATION, F.VM_EXIT_INSTRUCTION_LEN, F.VMX_INSTRUCTION_INFO, F.GUEST_LINEAR_ADDRESS,
  F.GUEST_PHYSICAL_ADDRESS, F.VM_EXIT_INTR_INFO, F.VM_EXIT_INTR_ERROR_CODE, F.IDT_VECTORING_INFO_FIELD, F.IDT_VECTORING_ERROR_CODE,
);

/**
 * Writes gathered values to their fields where they differ from the region's, as VmcsRegion.update
 * does one by one: an exit saves some 60 fields of which usually three change, so each costs a
 * compare in place (slotWord), and only a change forgets the checks and copies that read it.
 */
function writeChanged(vmcs: VmcsRegion, fields: Int32Array, words: Int32Array, values: Int32Array): void {
  const region = vmcs.words;
  if (region === null) {
    for (let i = 0; i < fields.length; i++) vmcs.update(fields[i]!, values[i]!);
    return;
  }
  const at = vmcs.firstWord;
  for (let i = 0; i < fields.length; i++) if (region[at + words[i]!] !== values[i]) vmcs.write(fields[i]!, values[i]!);
}
const SAVED_WORDS = SAVED_FIELDS.map(slotWord), SAVED_SEGMENT_WORDS = SAVED_SEGMENT_FIELDS.map(slotWord);
const EXIT_INFO_WORDS = EXIT_INFO_FIELDS.map(slotWord);
const SYSENTER_FIELDS = Int32Array.of(F.GUEST_SYSENTER_CS, F.GUEST_SYSENTER_ESP, F.GUEST_SYSENTER_EIP);
const SYSENTER_WORDS = SYSENTER_FIELDS.map(slotWord);

/** The host's segment registers after a VM exit (SDM 27.5.2): selector field, base field (-1: base 0). */
const HOST_SEGMENTS: readonly (readonly [number, number, number])[] = [
  [SegReg.CS, F.HOST_CS_SELECTOR, -1], [SegReg.SS, F.HOST_SS_SELECTOR, -1], [SegReg.DS, F.HOST_DS_SELECTOR, -1],
  [SegReg.ES, F.HOST_ES_SELECTOR, -1], [SegReg.FS, F.HOST_FS_SELECTOR, F.HOST_FS_BASE], [SegReg.GS, F.HOST_GS_SELECTOR, F.HOST_GS_BASE],
  [SegReg.TR, F.HOST_TR_SELECTOR, F.HOST_TR_BASE],
];

/** IDT-vectoring information: the event whose delivery an exit interrupted (SDM 28.2.4). */
function setVectoring(exit: VmExit, vector: number, errorCode: number, kind: string): void {
  const type = kind === 'external' ? 0 : kind === 'software' ? 4 : kind === 'software-exception' ? 6 : 3;
  exit.idtVectoringInfo = (0x80000000 | (type << 8) | vector | (errorCode >= 0 ? 0x800 : 0)) >>> 0;
  exit.idtVectoringErrorCode = Math.max(0, errorCode);
}

function allowed(value: number, cap: ControlCapability): boolean {
  return hasAll(value, cap.must1) && (value & ~cap.may1) === 0;
}

export class Vmx {
  inVmxOperation = false;
  vmxonPointer = -1;
  /** Host-physical address of the current VMCS, or -1 (the SDM's FFFFFFFF_FFFFFFFFH). */
  currentVmcs = -1;
  nonRoot = false;
  /** Set by a TypeScript hypervisor: a VM exit stops `cpu.run` (see `enter`). */
  stopOnExit = false;
  /** The last VM exit (also when x86 code handles it). */
  lastExit: VmExit | null = null;
  /**
   * Set by a TypeScript hypervisor that runs no x86 code of its own in root operation: an exit
   * taken in `enter()` saves the guest state into the VMCS as always but defers loading the host
   * state, leaving the guest's registers, segments and TLB context on the processor, so that the
   * next entry with the same VMCS loads only what changed (see `hostPending`). Anything that
   * needs root operation for real (executing an instruction, VMPTRLD, VMCLEAR, VMXOFF) loads the
   * host state first, exactly as the exit would have.
   */
  deferHostState = false;
  /**
   * The VMCS whose exit has not loaded its host state yet (null: root operation is loaded). The
   * processor then still holds that guest: its state equals the VMCS's guest-state area, its
   * translations are selected and EPT is in place.
   */
  hostPending: VmcsRegion | null = null;
  /** VM entries that found their guest still on the processor (loaded only RIP, RSP, RFLAGS...). */
  heldEntries = 0;
  /**
   * Set by a TypeScript hypervisor (with `deferHostState`), as KVM's exit fastpath: an
   * instruction that exits in `enter()` first offers its exit here, with the guest still on the
   * processor (its general registers in cpu.r, cpu.eip the instruction) and nothing of the exit
   * done yet. The handler may emulate the instruction on the live registers and answer a budget
   * (>= 0): the processor then skips the instruction (ending STI/MOV SS blocking, as completing
   * it would) and resumes the guest without saving or loading anything, the VM entry the
   * handler would otherwise make with only the preemption timer changed. Held state makes this
   * safe: the VMCS's guest area is what the processor holds (see `deferHostState`), except the
   * registers the next exit saves anyway, and the handler reads nothing from it. FastExit.DECLINED
   * takes the exit as always, FastExit.EXIT_AFTER takes it after the emulated instruction.
   * `fastExits` counts the resumed ones.
   */
  fastExit: ((reason: number, qualification: number, instructionLength: number) => number) | null = null;
  fastExits = 0;
  /**
   * Set by the same hypervisor: exits completed inline, called by compiled blocks in place of
   * an instruction's executor (see InlineExits).
   */
  inlineExits: InlineExits | null = null;
  /** Why the last VMfail happened, in words (the SDM only gives a number). */
  lastFailureDetail = '';

  // Controls cached for the guest that is running (read from the VMCS at entry).
  pin = 0; proc = 0; proc2 = 0;
  exceptionBitmap = 0; pfMask = 0; pfMatch = 0;
  cr0Mask = 0; cr0Shadow = 0; cr4Mask = 0; cr4Shadow = 0;
  tscOffset = 0n;
  /** More controls cached at entry: VM_EXIT_CONTROLS and the lengths of the MSR lists. */
  private exitControls = 0;
  private entryMsrLoads = 0; private exitMsrStores = 0; private exitMsrLoads = 0;
  /** The bitmaps' addresses (their contents are read where they are, at each access). */
  private ioBitmapA = 0; private ioBitmapB = 0; private msrBitmap = 0;
  /** The VMCS the cached controls and EPT walker came from (with HeldByProcessor.CONTROLS set in it). */
  private controlsFrom = -1;
  /** cpu.msrWrites when the guest's SYSENTER MSRs were last loaded or saved (unchanged: nothing to save). */
  private msrWritesSeen = -1;
  /** TSC value at which the preemption timer fires (Infinity when off). */
  timerDeadline = Infinity;
  /** Instruction count at entry (monitor trap flag: exit once one instruction retired). */
  entryIcount = 0;
  private ept: EptWalker | null = null;
  /** Exit being raised (between the throw and completeExit). */
  private pending: VmExit | null = null;

  constructor(private readonly cpu: Cpu) {}

  /** The current VMCS (one object per current-VMCS pointer: entry and exit use it a hundred times). */
  get vmcs(): VmcsRegion | null {
    const at = this.currentVmcs;
    if (at < 0) return null;
    if (this.region?.address !== at) this.region = new VmcsRegion(this.cpu.mem, at);
    return this.region;
  }
  private region: VmcsRegion | null = null;

  /** Forgets everything (processor reset). */
  reset(): void {
    this.inVmxOperation = false; this.vmxonPointer = -1; this.currentVmcs = -1;
    this.hostPending = null;
    this.controlsFrom = -1;
    this.leaveNonRoot();
  }

  // ------------------------------------------------------------------ VMX instructions

  /** VMsucceed / VMfailInvalid / VMfailValid(n): the arithmetic flags and VM-instruction error. */
  private setStatus(status: VmxStatus): VmxStatus {
    const lf = this.cpu.lf;
    let flags = lf.materialize() & ~0x8d5;
    if (!status.ok) {
      if (status.invalid) flags |= 1;
      else {
        flags |= 0x40;
        this.vmcs!.write(F.VM_INSTRUCTION_ERROR, status.error);
      }
    }
    lf.load(flags);
    return status;
  }
  private succeed(): VmxStatus { return this.setStatus({ ok: true }); }
  /** VMfail(n): VMfailValid when there is a current VMCS, else VMfailInvalid. */
  private fail(error: number, detail = ''): VmxStatus {
    this.lastFailureDetail = detail;
    return this.setStatus(this.currentVmcs < 0 ? { ok: false, invalid: true } : { ok: false, invalid: false, error });
  }
  private failInvalid(detail: string): VmxStatus {
    this.lastFailureDetail = detail;
    return this.setStatus({ ok: false, invalid: true });
  }

  private validRegionAddress(addr: bigint): boolean {
    return (addr & 0xfffn) === 0n && addr >> 32n === 0n && Number(addr) + 4096 <= this.cpu.mem.ramSize;
  }

  /** VMXON with a VMXON-region address (the caller did the #UD/#GP checks for outside VMX operation). */
  vmxon(region: bigint): VmxStatus {
    if (this.inVmxOperation) return this.fail(VmInstructionError.VMXON_IN_ROOT, 'VMXON executed in VMX root operation');
    if (!this.validRegionAddress(region)) return this.failInvalid(`VMXON region 0x${region.toString(16)} is not a 4 KiB-aligned RAM address`);
    const rev = this.cpu.mem.read32(Number(region)) >>> 0;
    if ((rev & 0x7fffffff) !== VMCS_REVISION || rev >>> 31) return this.failInvalid(`VMXON region revision 0x${rev.toString(16)} is not 0x${VMCS_REVISION.toString(16)}`);
    this.inVmxOperation = true;
    this.vmxonPointer = Number(region);
    this.currentVmcs = -1;
    return this.succeed();
  }

  vmxoff(): VmxStatus {
    this.loadPendingHostState();
    this.inVmxOperation = false;
    this.vmxonPointer = -1;
    this.currentVmcs = -1;
    return this.succeed();
  }

  vmclear(addr: bigint): VmxStatus {
    if (!this.validRegionAddress(addr)) return this.fail(VmInstructionError.VMCLEAR_INVALID_ADDRESS, 'VMCLEAR with an invalid physical address');
    if (Number(addr) === this.vmxonPointer) return this.fail(VmInstructionError.VMCLEAR_VMXON_POINTER, 'VMCLEAR with the VMXON pointer');
    this.loadPendingHostState();
    const region = new VmcsRegion(this.cpu.mem, Number(addr));
    region.launchState = LaunchState.CLEAR;
    region.verifiedChecks = 0;
    if (Number(addr) === this.currentVmcs) this.currentVmcs = -1;
    return this.succeed();
  }

  vmptrld(addr: bigint): VmxStatus {
    if (!this.validRegionAddress(addr)) return this.fail(VmInstructionError.VMPTRLD_INVALID_ADDRESS, 'VMPTRLD with an invalid physical address');
    if (Number(addr) === this.vmxonPointer) return this.fail(VmInstructionError.VMPTRLD_VMXON_POINTER, 'VMPTRLD with the VMXON pointer');
    const rev = this.cpu.mem.read32(Number(addr)) >>> 0;
    if (rev !== VMCS_REVISION) return this.fail(VmInstructionError.VMPTRLD_WRONG_REVISION, `VMCS revision 0x${rev.toString(16)} is not 0x${VMCS_REVISION.toString(16)}`);
    this.loadPendingHostState();
    this.currentVmcs = Number(addr);
    this.vmcs!.verifiedChecks = 0; // what the region's memory says is not trusted across a load
    return this.succeed();
  }

  /** VMPTRST's value: the current-VMCS pointer as a 64-bit number. */
  vmptrst(): bigint {
    this.succeed();
    return this.currentVmcs < 0 ? 0xffffffffffffffffn : BigInt(this.currentVmcs);
  }

  /** VMREAD: the field's value, or null after a VMfail. */
  vmread(encoding: number): number | null {
    const vmcs = this.vmcs;
    if (!vmcs) { this.failInvalid('VMREAD without a current VMCS'); return null; }
    if (!lookupField(encoding)) { this.fail(VmInstructionError.UNSUPPORTED_COMPONENT, `VMREAD of unsupported field 0x${(encoding >>> 0).toString(16)}`); return null; }
    const v = vmcs.read(encoding);
    this.succeed();
    return v;
  }

  vmwrite(encoding: number, value: number): VmxStatus {
    const vmcs = this.vmcs;
    if (!vmcs) return this.failInvalid('VMWRITE without a current VMCS');
    const f = lookupField(encoding);
    if (!f) return this.fail(VmInstructionError.UNSUPPORTED_COMPONENT, `VMWRITE to unsupported field 0x${(encoding >>> 0).toString(16)}`);
    if (f.field.type === 'exit-info') return this.fail(VmInstructionError.VMWRITE_READ_ONLY, `VMWRITE to read-only field ${f.field.name}`);
    vmcs.write(encoding, value);
    return this.succeed();
  }

  /** VMCALL in root operation: without SMM's dual-monitor treatment it is VMfail(1). */
  vmcallInRoot(): VmxStatus {
    return this.fail(VmInstructionError.VMCALL_IN_ROOT, 'VMCALL executed in VMX root operation');
  }

  /** INVVPID with a descriptor whose bits 63:16 are not zero. */
  invvpidReservedBits(): VmxStatus {
    return this.fail(VmInstructionError.INVALID_INVEPT_INVVPID_OPERAND, 'INVVPID descriptor bits 63:16 are not zero');
  }

  /** INVEPT (type 1 single-context, 2 all-context) with its descriptor's EPTP. */
  invept(type: number, eptp: bigint): VmxStatus {
    if (type !== 1 && type !== 2) return this.fail(VmInstructionError.INVALID_INVEPT_INVVPID_OPERAND, `INVEPT type ${type} is not supported`);
    if (type === 1 && !validEptPointer(eptp)) return this.fail(VmInstructionError.INVALID_INVEPT_INVVPID_OPERAND, 'INVEPT with an invalid EPT pointer');
    const root = `:${Number(eptp & 0xfffff000n)}`;
    this.cpu.mmu.dropContexts((tag) => type === 2 || tag.endsWith(root));
    return this.succeed();
  }

  /** INVVPID (type 0 address, 1 single-context, 2 all-context, 3 single-context keeping globals). */
  invvpid(type: number, vpid: number, linear: bigint): VmxStatus {
    if (type > 3) return this.fail(VmInstructionError.INVALID_INVEPT_INVVPID_OPERAND, `INVVPID type ${type} is not supported`);
    if (type !== 2 && (vpid & 0xffff) === 0) return this.fail(VmInstructionError.INVALID_INVEPT_INVVPID_OPERAND, 'INVVPID with VPID 0');
    if (type === 0 && linear >> 32n) return this.fail(VmInstructionError.INVALID_INVEPT_INVVPID_OPERAND, 'INVVPID with a non-canonical address');
    const prefix = `${vpid & 0xffff}:`;
    const mmu = this.cpu.mmu;
    if (type === 0) {
      for (const tag of this.taggedContexts) if (tag.startsWith(prefix)) mmu.invalidatePageIn(tag, Number(linear));
    } else mmu.dropContexts((tag) => type === 2 || tag.startsWith(prefix));
    return this.succeed();
  }

  // ------------------------------------------------------------------ VM entry

  /**
   * VMLAUNCH / VMRESUME from root operation. On success the CPU is in non-root operation at the
   * guest's RIP. A VMfail leaves it in root operation after the instruction; a failure on guest
   * state or MSR loading is a VM exit with bit 31 set (reason 33 or 34), continuing at HOST_RIP.
   */
  vmentry(launch: boolean): VmxStatus {
    const cpu = this.cpu;
    const vmcs = this.vmcs;
    if (!vmcs) return this.failInvalid(`${launch ? 'VMLAUNCH' : 'VMRESUME'} without a current VMCS`);
    // Blocking by MOV SS in root operation: with the host state pending, the shadow the processor
    // holds is the guest's, and the host's (which the exit loads clear) is not blocked.
    if (this.hostPending === null && cpu.interruptShadow && cpu.movSsShadow) return this.fail(VmInstructionError.ENTRY_EVENTS_BLOCKED_BY_MOV_SS, 'VM entry right after MOV SS');
    if (launch && vmcs.launchState !== LaunchState.CLEAR) return this.fail(VmInstructionError.VMLAUNCH_NON_CLEAR, 'VMLAUNCH with a VMCS that is not clear');
    if (!launch && vmcs.launchState !== LaunchState.LAUNCHED) return this.fail(VmInstructionError.VMRESUME_NON_LAUNCHED, 'VMRESUME with a VMCS that is not launched');
    // Another VMCS's exit still owes its host state: load it (this one's is what the processor holds).
    if (this.hostPending !== null && this.hostPending !== vmcs) this.loadPendingHostState();
    // Groups of checks whose fields were not written since they last passed are not repeated.
    const verified = vmcs.verifiedChecks;
    try {
      this.checkControls(vmcs, (verified & EntryCheck.CONTROLS) === 0);
      if (!(verified & EntryCheck.HOST)) this.checkHostState(vmcs);
    } catch (e) {
      if (!(e instanceof EntryFailure)) throw e;
      return this.fail(e.kind === 'control' ? VmInstructionError.ENTRY_INVALID_CONTROLS : VmInstructionError.ENTRY_INVALID_HOST_STATE, e.detail);
    }
    // From here on the instruction has completed; failures are VM exits to the host.
    cpu.eip = cpu.nextEip;
    const rflags = vmcs.read(F.GUEST_RFLAGS);
    const v86 = (rflags & VM) !== 0;
    try {
      this.checkGuestState(vmcs, (verified & EntryCheck.GUEST) === 0 || ((verified & VERIFIED_V86) !== 0) !== v86);
    } catch (e) {
      if (!(e instanceof EntryFailure)) throw e;
      this.lastFailureDetail = e.detail;
      this.entryFailed(vmcs, ExitReason.INVALID_GUEST_STATE, 0);
      return this.succeedWithoutFlags();
    }
    if (this.controlsFrom !== vmcs.address || !(verified & HeldByProcessor.CONTROLS)) this.loadControls(vmcs);
    if (this.loadGuestState(vmcs, rflags, verified)) this.heldEntries++;
    const nowVerified = ALL_VERIFIED | (v86 ? VERIFIED_V86 : 0) | HELD;
    if (verified !== nowVerified) vmcs.verifiedChecks = nowVerified;
    const msrFailure = this.entryMsrLoads === 0 ? 0 : this.loadMsrList(vmcs.read(F.VM_ENTRY_MSR_LOAD_ADDR), this.entryMsrLoads);
    if (msrFailure > 0) {
      this.lastFailureDetail = `VM-entry MSR-load entry ${msrFailure} failed`;
      this.entryFailed(vmcs, ExitReason.MSR_LOADING, msrFailure);
      return this.succeedWithoutFlags();
    }
    if (launch) vmcs.launchState = LaunchState.LAUNCHED;
    this.enterNonRoot(vmcs);
    return { ok: true };
  }

  private succeedWithoutFlags(): VmxStatus {
    return { ok: true };
  }

  /**
   * SDM 27.2.1. `all`: also the checks on fields of EntryCheck.CONTROLS (else they passed at an
   * earlier entry and nothing they read was written since); event injection is always checked.
   */
  private checkControls(vmcs: VmcsRegion, all: boolean): void {
    const proc = vmcs.read(F.CPU_BASED_VM_EXEC_CONTROL);
    const proc2 = proc & Proc.ACTIVATE_SECONDARY_CONTROLS ? vmcs.read(F.SECONDARY_VM_EXEC_CONTROL) : 0;
    if (all) this.checkExecutionControls(vmcs, proc, proc2);
    const info = vmcs.read(F.VM_ENTRY_INTR_INFO_FIELD);
    if (info >>> 31) this.checkEventInjection(vmcs, info, proc2);
  }

  private checkExecutionControls(vmcs: VmcsRegion, proc: number, proc2: number): void {
    const bad = (what: string): never => { throw new EntryFailure('control', what); };
    const pin = vmcs.read(F.PIN_BASED_VM_EXEC_CONTROL);
    const exit = vmcs.read(F.VM_EXIT_CONTROLS), entry = vmcs.read(F.VM_ENTRY_CONTROLS);
    if (!allowed(pin, CAPABILITY.pin)) bad(`pin-based controls 0x${pin.toString(16)} not allowed`);
    if (!allowed(proc, CAPABILITY.proc)) bad(`primary processor-based controls 0x${proc.toString(16)} not allowed`);
    if (!allowed(proc2, CAPABILITY.proc2)) bad(`secondary processor-based controls 0x${proc2.toString(16)} not allowed`);
    if (!allowed(exit, CAPABILITY.exit)) bad(`VM-exit controls 0x${exit.toString(16)} not allowed`);
    if (!allowed(entry, CAPABILITY.entry)) bad(`VM-entry controls 0x${entry.toString(16)} not allowed`);
    if (vmcs.read(F.CR3_TARGET_COUNT) > 4) bad('CR3-target count above 4');
    if (proc & Proc.USE_IO_BITMAPS && ((vmcs.read(F.IO_BITMAP_A) & 0xfff) || (vmcs.read(F.IO_BITMAP_B) & 0xfff))) bad('I/O bitmap address not 4 KiB aligned');
    if (proc & Proc.USE_MSR_BITMAPS && (vmcs.read(F.MSR_BITMAP) & 0xfff)) bad('MSR bitmap address not 4 KiB aligned');
    if (!(pin & Pin.NMI_EXITING) && (pin & Pin.VIRTUAL_NMIS)) bad('virtual NMIs without NMI exiting');
    if (!(pin & Pin.VIRTUAL_NMIS) && (proc & Proc.NMI_WINDOW_EXITING)) bad('NMI-window exiting without virtual NMIs');
    if (proc2 & Proc2.ENABLE_EPT && !validEptPointer(vmcs.read64(F.EPT_POINTER))) bad('invalid EPT pointer');
    if (proc2 & Proc2.UNRESTRICTED_GUEST && !(proc2 & Proc2.ENABLE_EPT)) bad('unrestricted guest without EPT');
    if (proc2 & Proc2.ENABLE_VPID && vmcs.read(F.VIRTUAL_PROCESSOR_ID) === 0) bad('VPID enabled with VPID 0');
    if (!(pin & Pin.PREEMPTION_TIMER) && (exit & ExitCtl.SAVE_PREEMPTION_TIMER)) bad('save preemption timer without the timer');
    for (const [addr, count] of [[F.VM_EXIT_MSR_STORE_ADDR, F.VM_EXIT_MSR_STORE_COUNT], [F.VM_EXIT_MSR_LOAD_ADDR, F.VM_EXIT_MSR_LOAD_COUNT], [F.VM_ENTRY_MSR_LOAD_ADDR, F.VM_ENTRY_MSR_LOAD_COUNT]] as const) {
      if (vmcs.read(count) && (vmcs.read(addr) & 0xf)) bad('MSR list address not 16-byte aligned');
      if (vmcs.read(count) > 512) bad('MSR list longer than 512 entries');
    }
  }

  /** The VM-entry interruption-information field (valid), SDM 27.2.1.3. */
  private checkEventInjection(vmcs: VmcsRegion, info: number, proc2: number): void {
    const bad = (what: string): never => { throw new EntryFailure('control', what); };
    const type = (info >>> 8) & 7, vector = info & 0xff;
    if (type === 1) bad('event injection of reserved type 1');
    if (type === 2 && vector !== 2) bad('NMI injection with vector other than 2');
    if (type === 3 && vector > 31) bad('hardware exception injection with vector above 31');
    if (type === 7 && vector !== 0) bad('other-event injection with nonzero vector');
    if (info & 0x7ffff000) bad('reserved bits in the VM-entry interruption-information field');
    if (info & 0x800) {
      const unrestricted = (proc2 & Proc2.UNRESTRICTED_GUEST) !== 0;
      if (type !== 3 || !ERROR_CODE_VECTORS.has(vector)) bad('error code delivered for an event that has none');
      if (unrestricted && !(vmcs.read(F.GUEST_CR0) & CR0_PE)) bad('error code delivered to a real-mode guest');
    }
    if (type >= 4 && type <= 6) {
      const len = vmcs.read(F.VM_ENTRY_INSTRUCTION_LEN);
      if (len < 1 || len > 15) bad('software event injection with instruction length outside 1-15');
    }
  }

  private checkHostState(vmcs: VmcsRegion): void {
    const bad = (what: string): never => { throw new EntryFailure('host', what); };
    const cr0 = vmcs.read(F.HOST_CR0), cr4 = vmcs.read(F.HOST_CR4);
    if (!hasAll(cr0, CR0_FIXED0) || (cr0 & ~CR0_FIXED1)) bad(`HOST_CR0 0x${cr0.toString(16)} violates the CR0 fixed bits`);
    if (!hasAll(cr4, CR4_FIXED0) || (cr4 & ~CR4_FIXED1)) bad(`HOST_CR4 0x${cr4.toString(16)} violates the CR4 fixed bits`);
    for (const f of [F.HOST_ES_SELECTOR, F.HOST_CS_SELECTOR, F.HOST_SS_SELECTOR, F.HOST_DS_SELECTOR, F.HOST_FS_SELECTOR, F.HOST_GS_SELECTOR, F.HOST_TR_SELECTOR]) {
      if (vmcs.read(f) & 7) bad('a host selector has RPL or TI set');
    }
    if (vmcs.read(F.HOST_CS_SELECTOR) === 0) bad('HOST_CS selector is null');
    if (vmcs.read(F.HOST_TR_SELECTOR) === 0) bad('HOST_TR selector is null');
    if (vmcs.read(F.HOST_SS_SELECTOR) === 0) bad('HOST_SS selector is null');
  }

  /**
   * SDM 27.3.1, in its order. `all`: also the checks on fields of EntryCheck.GUEST (else they
   * passed at an earlier entry, for the same RFLAGS.VM, and nothing they read was written since);
   * RFLAGS, event injection, activity and interruptibility are always checked.
   */
  private checkGuestState(vmcs: VmcsRegion, all: boolean): void {
    const bad = (what: string): never => { throw new EntryFailure('guest', what); };
    if (all) this.checkGuestControlRegisters(vmcs);
    const rflags = vmcs.read(F.GUEST_RFLAGS);
    if ((rflags & 0xffc08028) || !(rflags & 2)) bad(`GUEST_RFLAGS 0x${rflags.toString(16)} has reserved bits wrong`);
    const entryInfo = vmcs.read(F.VM_ENTRY_INTR_INFO_FIELD);
    if (entryInfo >>> 31 && ((entryInfo >>> 8) & 7) === 0 && !(rflags & IF)) bad('external-interrupt injection with RFLAGS.IF = 0');
    if (all) this.checkGuestSegments(vmcs, (rflags & VM) !== 0);
    const activity = vmcs.read(F.GUEST_ACTIVITY_STATE);
    if (activity > 1) bad(`activity state ${activity} is not supported (0 active, 1 HLT)`);
    if (activity === 1 && ((vmcs.read(F.GUEST_SS_AR_BYTES) >>> 5) & 3) !== 0) bad('HLT activity state with SS DPL not 0');
    const intr = vmcs.read(F.GUEST_INTERRUPTIBILITY_INFO);
    if (intr & ~0xf) bad('reserved bits in the interruptibility state');
    if ((intr & 3) === 3) bad('blocking by both STI and MOV SS');
    if ((intr & 1) && !(rflags & IF)) bad('blocking by STI with RFLAGS.IF = 0');
    if (entryInfo >>> 31 && ((entryInfo >>> 8) & 7) === 0 && (intr & 3)) bad('external-interrupt injection while blocked by STI or MOV SS');
    if (!all) return;
    if (vmcs.read64(F.VMCS_LINK_POINTER) !== 0xffffffffffffffffn) bad('VMCS link pointer is not FFFFFFFF_FFFFFFFF');
    if (vmcs.read(F.GUEST_PENDING_DBG_EXCEPTIONS) & ~0x1500f) bad('reserved bits in pending debug exceptions');
  }

  private unrestrictedGuest(vmcs: VmcsRegion): boolean {
    const proc = vmcs.read(F.CPU_BASED_VM_EXEC_CONTROL);
    const proc2 = proc & Proc.ACTIVATE_SECONDARY_CONTROLS ? vmcs.read(F.SECONDARY_VM_EXEC_CONTROL) : 0;
    return (proc2 & Proc2.UNRESTRICTED_GUEST) !== 0;
  }

  /** SDM 27.3.1.1: CR0 and CR4 against the fixed bits (PE and PG free for an unrestricted guest). */
  private checkGuestControlRegisters(vmcs: VmcsRegion): void {
    const bad = (what: string): never => { throw new EntryFailure('guest', what); };
    const cr0 = vmcs.read(F.GUEST_CR0), cr4 = vmcs.read(F.GUEST_CR4);
    const fixed0 = this.unrestrictedGuest(vmcs) ? CR0_FIXED0 & ~(CR0_PE | CR0_PG) : CR0_FIXED0;
    if (!hasAll(cr0, fixed0) || (cr0 & ~CR0_FIXED1)) bad(`GUEST_CR0 0x${cr0.toString(16)} violates the CR0 fixed bits`);
    if ((cr0 & CR0_PG) && !(cr0 & CR0_PE)) bad('GUEST_CR0 has PG without PE');
    if (!hasAll(cr4, CR4_FIXED0) || (cr4 & ~CR4_FIXED1)) bad(`GUEST_CR4 0x${cr4.toString(16)} violates the CR4 fixed bits`);
  }

  /** SDM 27.3.1.2: segment registers, TR, LDTR, GDTR and IDTR (virtual-8086 segments when RFLAGS.VM). */
  private checkGuestSegments(vmcs: VmcsRegion, v86: boolean): void {
    const bad = (what: string): never => { throw new EntryFailure('guest', what); };
    const unrestricted = this.unrestrictedGuest(vmcs);
    const cr0 = vmcs.read(F.GUEST_CR0);
    const seg = (sel: number, base: number, limit: number, ar: number) => ({
      sel: vmcs.read(sel), base: vmcs.read(base), limit: vmcs.read(limit), ar: vmcs.read(ar),
    });
    const cs = seg(F.GUEST_CS_SELECTOR, F.GUEST_CS_BASE, F.GUEST_CS_LIMIT, F.GUEST_CS_AR_BYTES);
    const ss = seg(F.GUEST_SS_SELECTOR, F.GUEST_SS_BASE, F.GUEST_SS_LIMIT, F.GUEST_SS_AR_BYTES);
    const data = [
      ['DS', seg(F.GUEST_DS_SELECTOR, F.GUEST_DS_BASE, F.GUEST_DS_LIMIT, F.GUEST_DS_AR_BYTES)],
      ['ES', seg(F.GUEST_ES_SELECTOR, F.GUEST_ES_BASE, F.GUEST_ES_LIMIT, F.GUEST_ES_AR_BYTES)],
      ['FS', seg(F.GUEST_FS_SELECTOR, F.GUEST_FS_BASE, F.GUEST_FS_LIMIT, F.GUEST_FS_AR_BYTES)],
      ['GS', seg(F.GUEST_GS_SELECTOR, F.GUEST_GS_BASE, F.GUEST_GS_LIMIT, F.GUEST_GS_AR_BYTES)],
    ] as const;
    const tr = seg(F.GUEST_TR_SELECTOR, F.GUEST_TR_BASE, F.GUEST_TR_LIMIT, F.GUEST_TR_AR_BYTES);
    const ldtr = seg(F.GUEST_LDTR_SELECTOR, F.GUEST_LDTR_BASE, F.GUEST_LDTR_LIMIT, F.GUEST_LDTR_AR_BYTES);
    const granularity = (name: string, s: { limit: number; ar: number }): void => {
      if ((s.limit & 0xfff) !== 0xfff && (s.ar & 0x8000)) bad(`${name} limit 0x${s.limit.toString(16)} with G = 1`);
      if ((s.limit >>> 20) && !(s.ar & 0x8000)) bad(`${name} limit 0x${s.limit.toString(16)} with G = 0`);
    };
    if (v86) {
      for (const [name, s] of [['CS', cs], ['SS', ss], ...data] as const) {
        if (s.base !== s.sel << 4 || s.limit !== 0xffff || s.ar !== 0xf3) bad(`${name} is not a virtual-8086 segment`);
      }
    } else {
      const csType = cs.ar & 0xf;
      if (![9, 11, 13, 15].includes(csType) && !(unrestricted && csType === 3)) bad(`CS type ${csType} is not an accessed code segment`);
      if (!(cs.ar & 0x10) || !(cs.ar & 0x80) || (cs.ar & 0xf00) || (cs.ar >>> 17)) bad('CS access rights invalid (S, P or reserved bits)');
      const csDpl = (cs.ar >>> 5) & 3, ssDpl = (ss.ar >>> 5) & 3;
      if ((csType === 9 || csType === 11) && csDpl !== ssDpl) bad('non-conforming CS DPL differs from SS DPL');
      if ((csType === 13 || csType === 15) && csDpl > ssDpl) bad('conforming CS DPL above SS DPL');
      granularity('CS', cs);
      if (!unrestricted && (ss.sel & 3) !== (cs.sel & 3)) bad('SS RPL differs from CS RPL');
      if (!(ss.ar & SEG_ATTR_UNUSABLE)) {
        const t = ss.ar & 0xf;
        if (t !== 3 && t !== 7) bad(`SS type ${t} is not a writable data segment`);
        if (!(ss.ar & 0x10) || !(ss.ar & 0x80) || (ss.ar & 0xf00) || (ss.ar >>> 17)) bad('SS access rights invalid');
        if (!unrestricted && ssDpl !== (ss.sel & 3)) bad('SS DPL differs from its RPL');
        granularity('SS', ss);
      }
      if (!(cr0 & CR0_PE) && ssDpl !== 0) bad('SS DPL is not 0 in real mode');
      for (const [name, s] of data) {
        if (s.ar & SEG_ATTR_UNUSABLE) continue;
        const t = s.ar & 0xf;
        if (!(t & 1)) bad(`${name} type ${t} is not accessed`);
        if ((t & 8) && !(t & 2)) bad(`${name} is an execute-only code segment`);
        if (!(s.ar & 0x10) || !(s.ar & 0x80) || (s.ar & 0xf00) || (s.ar >>> 17)) bad(`${name} access rights invalid`);
        if (!unrestricted && t <= 11 && ((s.ar >>> 5) & 3) < (s.sel & 3)) bad(`${name} DPL below its RPL`);
        granularity(name, s);
      }
    }
    if (tr.sel & 4) bad('TR selector has TI set');
    const trType = tr.ar & 0xf;
    if (trType !== 11 && trType !== 3) bad(`TR type ${trType} is not a busy TSS`);
    if ((tr.ar & 0x10) || !(tr.ar & 0x80) || (tr.ar & 0xf00) || (tr.ar >>> 16)) bad('TR access rights invalid (or unusable)');
    granularity('TR', tr);
    if (!(ldtr.ar & SEG_ATTR_UNUSABLE)) {
      if (ldtr.sel & 4) bad('LDTR selector has TI set');
      if ((ldtr.ar & 0xf) !== 2 || (ldtr.ar & 0x10) || !(ldtr.ar & 0x80) || (ldtr.ar & 0xf00) || (ldtr.ar >>> 17)) bad('LDTR access rights invalid');
      granularity('LDTR', ldtr);
    }
    if (vmcs.read(F.GUEST_GDTR_LIMIT) > 0xffff || vmcs.read(F.GUEST_IDTR_LIMIT) > 0xffff) bad('GDTR or IDTR limit above 0xFFFF');
  }

  /**
   * Loads guest CRs, registers, segments and MSRs from the VMCS (SDM 26.3.2), or, when the
   * processor still holds this guest (`verified`: the region's verified word), only what every
   * entry loads. Returns whether the guest was held.
   */
  private loadGuestState(vmcs: VmcsRegion, rflags: number, verified: number): boolean {
    const cpu = this.cpu, mmu = cpu.mmu;
    // The guest this VMCS exited from is still on the processor (its host state deferred) and no
    // field of what it holds was changed: only the registers every entry loads are loaded.
    const held = this.hostPending === vmcs && (verified & HeldByProcessor.GUEST) !== 0 && ((cpu.lf.flags ^ rflags) & VM) === 0;
    if (!held) {
      mmu.cr0 = vmcs.read(F.GUEST_CR0) | CR0_NE;
      mmu.cr3 = vmcs.read(F.GUEST_CR3);
      mmu.cr4 = vmcs.read(F.GUEST_CR4);
      cpu.dr[7] = vmcs.read(F.GUEST_DR7) | 0x400;
      cpu.updateDebugState();
      cpu.lf.load(rflags); // the segment bounds below depend on RFLAGS.VM
      this.loadGuestSegmentsAndTables(vmcs, rflags);
    }
    this.loadEntryGuestState(vmcs, rflags);
    return held;
  }

  /** The rest of a full guest load: segment registers, CPL, GDTR/IDTR, SYSENTER MSRs. */
  private loadGuestSegmentsAndTables(vmcs: VmcsRegion, rflags: number): void {
    const cpu = this.cpu;
    const f = GUEST_SEGMENT_FIELDS;
    for (let s = 0, i = 0; s < 8; s++, i += 4) {
      cpu.segSel[s] = vmcs.read(f[i]!);
      cpu.segBase[s] = vmcs.read(f[i + 1]!);
      cpu.segLimit[s] = vmcs.read(f[i + 2]!);
      cpu.segAttr[s] = vmcs.read(f[i + 3]!) & 0x1f0ff;
    }
    // CPL is SS.DPL (SDM 26.3.2.2); in virtual-8086 mode 3.
    cpu.cpl = rflags & VM ? 3 : (cpu.segAttr[SegReg.SS]! >>> 5) & 3;
    for (let s = 0; s < 8; s++) cpu.updateSegmentBounds(s);
    this.segmentWritesSeen = cpu.segmentWrites;
    cpu.gdtBase = vmcs.read(F.GUEST_GDTR_BASE); cpu.gdtLimit = vmcs.read(F.GUEST_GDTR_LIMIT);
    cpu.idtBase = vmcs.read(F.GUEST_IDTR_BASE); cpu.idtLimit = vmcs.read(F.GUEST_IDTR_LIMIT);
    loadStoredMsr32(cpu, 0x174, vmcs.read(F.GUEST_SYSENTER_CS));
    loadStoredMsr32(cpu, 0x175, vmcs.read(F.GUEST_SYSENTER_ESP));
    loadStoredMsr32(cpu, 0x176, vmcs.read(F.GUEST_SYSENTER_EIP));
    this.msrWritesSeen = cpu.msrWrites;
  }

  /** The guest state every entry loads: RIP, RSP, RFLAGS, interruptibility and activity. */
  private loadEntryGuestState(vmcs: VmcsRegion, rflags: number): void {
    const cpu = this.cpu;
    cpu.lf.load(rflags);
    cpu.r[4] = vmcs.read(F.GUEST_RSP);
    cpu.eip = cpu.nextEip = vmcs.read(F.GUEST_RIP);
    const intr = vmcs.read(F.GUEST_INTERRUPTIBILITY_INFO);
    cpu.interruptShadow = (intr & 3) !== 0;
    cpu.movSsShadow = (intr & 2) !== 0;
    cpu.halted = vmcs.read(F.GUEST_ACTIVITY_STATE) === 1;
  }

  /** Processes an MSR-load list; returns 0, or the 1-based number of the entry that failed. */
  private loadMsrList(address: number, count: number): number {
    const mem = this.cpu.mem;
    for (let i = 0; i < count; i++) {
      const at = address + i * 16;
      const index = mem.read32(at) >>> 0;
      if (mem.read32(at + 4) !== 0) return i + 1;
      const value = (BigInt(mem.read32(at + 12) >>> 0) << 32n) | BigInt(mem.read32(at + 8) >>> 0);
      if (index >= 0x480 && index <= 0x491) return i + 1; // VMX capability MSRs are read-only
      try {
        writeMsr(this.cpu, index, value);
      } catch (e) {
        if (e instanceof CpuFault) return i + 1;
        throw e;
      }
    }
    return 0;
  }

  /** Stores guest MSRs into a VM-exit MSR-store list. */
  private storeMsrList(address: number, count: number): void {
    const mem = this.cpu.mem;
    for (let i = 0; i < count; i++) {
      const at = address + i * 16;
      let value = 0n;
      try { value = readMsr(this.cpu, mem.read32(at) >>> 0); } catch (e) { if (!(e instanceof CpuFault)) throw e; }
      mem.write32(at + 8, Number(value & 0xffffffffn));
      mem.write32(at + 12, Number(value >> 32n));
    }
  }

  /**
   * Takes the processor's copy of the controls that decide what the guest may do (kept, with
   * HeldByProcessor.CONTROLS in the VMCS, until a write changes one of them).
   */
  private loadControls(vmcs: VmcsRegion): void {
    this.pin = vmcs.read(F.PIN_BASED_VM_EXEC_CONTROL);
    this.proc = vmcs.read(F.CPU_BASED_VM_EXEC_CONTROL);
    this.proc2 = this.proc & Proc.ACTIVATE_SECONDARY_CONTROLS ? vmcs.read(F.SECONDARY_VM_EXEC_CONTROL) : 0;
    this.exitControls = vmcs.read(F.VM_EXIT_CONTROLS);
    this.exceptionBitmap = vmcs.read(F.EXCEPTION_BITMAP);
    this.pfMask = vmcs.read(F.PAGE_FAULT_ERROR_CODE_MASK);
    this.pfMatch = vmcs.read(F.PAGE_FAULT_ERROR_CODE_MATCH);
    this.cr0Mask = vmcs.read(F.CR0_GUEST_HOST_MASK); this.cr0Shadow = vmcs.read(F.CR0_READ_SHADOW);
    this.cr4Mask = vmcs.read(F.CR4_GUEST_HOST_MASK); this.cr4Shadow = vmcs.read(F.CR4_READ_SHADOW);
    this.guestTscOffset = this.proc & Proc.USE_TSC_OFFSETTING ? this.tscOffsetOf(vmcs) : 0n;
    this.guestEpt = this.proc2 & Proc2.ENABLE_EPT ? this.eptWalkerOf(vmcs) : null;
    this.guestTag = this.proc2 & Proc2.ENABLE_VPID ? this.contextTag(vmcs.read(F.VIRTUAL_PROCESSOR_ID), this.guestEpt ? this.guestEpt.root : -1) : null;
    this.entryMsrLoads = vmcs.read(F.VM_ENTRY_MSR_LOAD_COUNT);
    this.exitMsrStores = vmcs.read(F.VM_EXIT_MSR_STORE_COUNT);
    this.exitMsrLoads = vmcs.read(F.VM_EXIT_MSR_LOAD_COUNT);
    this.ioBitmapA = vmcs.read(F.IO_BITMAP_A);
    this.ioBitmapB = vmcs.read(F.IO_BITMAP_B);
    this.msrBitmap = vmcs.read(F.MSR_BITMAP);
    this.controlsFrom = vmcs.address;
  }
  // What loadControls derives from the 64-bit fields and the VPID, put in place at each entry.
  private guestTscOffset = 0n;
  private guestEpt: EptWalker | null = null;
  private guestTag: string | null = null;

  /** The guest is loaded: switch the MMU to two levels, inject, arm timers. */
  private enterNonRoot(vmcs: VmcsRegion): void {
    const cpu = this.cpu;
    this.nonRoot = true;
    this.hostPending = null;
    this.tscOffset = this.guestTscOffset;
    this.ept = this.guestEpt;
    cpu.mmu.second = this.ept ? this.translator : null;
    // Cached translations are tagged by VPID and EPT root: a guest with a VPID finds its entries
    // from last time (until INVVPID/INVEPT); without one, entry flushes (SDM 29.4.3).
    if (this.guestTag !== null) cpu.mmu.selectContext(this.guestTag);
    else cpu.mmu.flush();
    this.armForEntry(vmcs);
    this.injectEvent(vmcs);
  }

  /** What every VM entry starts: the MTF's count, and the preemption timer from the VMCS. */
  private armForEntry(vmcs: VmcsRegion): void {
    this.entryIcount = this.cpu.icount;
    this.timerDeadline = this.pin & Pin.PREEMPTION_TIMER
      ? this.rawTsc() + vmcs.read(F.VMX_PREEMPTION_TIMER_VALUE) * PreemptionTimer.TICKS : Infinity;
  }

  // Entry converts a few 64-bit fields into objects; each is kept while the field's words are unchanged.
  private tscOffsetCache = { lo: 0, hi: 0, value: 0n };
  private eptWalkerCache: { lo: number; hi: number; walker: EptWalker } | null = null;
  private tagCache = { vpid: -1, root: -1, tag: '' };

  /** TSC_OFFSET as a signed 64-bit value. */
  private tscOffsetOf(vmcs: VmcsRegion): bigint {
    const lo = vmcs.read(F.TSC_OFFSET), hi = vmcs.read(F.TSC_OFFSET | 1), c = this.tscOffsetCache;
    if (lo !== c.lo || hi !== c.hi) this.tscOffsetCache = { lo, hi, value: BigInt.asIntN(64, vmcs.read64(F.TSC_OFFSET)) };
    return this.tscOffsetCache.value;
  }

  /** The EPT walker for EPT_POINTER. */
  private eptWalkerOf(vmcs: VmcsRegion): EptWalker {
    const lo = vmcs.read(F.EPT_POINTER), hi = vmcs.read(F.EPT_POINTER | 1), c = this.eptWalkerCache;
    if (c !== null && c.lo === lo && c.hi === hi) return c.walker;
    this.eptWalkerCache = { lo, hi, walker: new EptWalker(this.cpu.mem, vmcs.read64(F.EPT_POINTER)) };
    return this.eptWalkerCache.walker;
  }

  /** The TLB context tag of a VPID and EPT root (-1: no EPT), remembered for INVVPID. */
  private contextTag(vpid: number, root: number): string {
    const c = this.tagCache;
    if (c.vpid === vpid && c.root === root) return c.tag;
    const tag = `${vpid}:${root < 0 ? 'none' : root}`;
    this.taggedContexts.add(tag);
    this.tagCache = { vpid, root, tag };
    return tag;
  }

  /** The processor's TSC before offsetting, as a number (exact below 2^53). */
  private rawTsc(): number {
    return this.cpu.icount + this.cpu.tscOffsetNumber;
  }

  /** Delivers the event in the VM-entry interruption-information field, if valid (SDM 26.6). */
  private injectEvent(vmcs: VmcsRegion): void {
    const info = vmcs.read(F.VM_ENTRY_INTR_INFO_FIELD);
    if (!(info >>> 31)) return;
    vmcs.write(F.VM_ENTRY_INTR_INFO_FIELD, info & 0x7fffffff); // cleared on every VM entry
    const cpu = this.cpu;
    const vector = info & 0xff, type = (info >>> 8) & 7;
    const errorCode = info & 0x800 ? vmcs.read(F.VM_ENTRY_EXCEPTION_ERROR_CODE) : -1;
    cpu.halted = false;
    if (type >= 4 && type <= 6) {
      cpu.nextEip = (cpu.eip + vmcs.read(F.VM_ENTRY_INSTRUCTION_LEN)) | 0;
      cpu.deliverEvent(vector, -1, type === 4 ? 'software' : 'software-exception');
    } else {
      if (vector === Vector.PF && type === 3) cpu.mmu.faultAddress = cpu.mmu.cr2;
      cpu.deliverEvent(vector, errorCode, type === 0 ? 'external' : 'injected-exception');
    }
  }

  /** The EPT translator the MMU calls in non-root operation (a violation unwinds as a VM exit). */
  private readonly translator: PhysicalTranslator = ((self: Vmx): PhysicalTranslator => ({
    translate: (gpa, access, linear, structure) => {
      const r = self.ept!.translate(gpa, access as EptAccess, structure);
      if (typeof r === 'number') return r;
      const exit = newExit(r.kind === 'violation' ? ExitReason.EPT_VIOLATION : ExitReason.EPT_MISCONFIG);
      exit.guestPhysicalAddress = r.gpa;
      if (r.kind === 'violation') {
        exit.qualification = (access === 'read' ? 1 : access === 'write' ? 2 : 4) | (r.permissions << 3)
          | (1 << 7) | (structure ? 0 : 1 << 8);
        exit.guestLinearAddress = linear >>> 0;
      }
      return self.raiseExit(exit);
    },
    get permissions(): number { return self.ept?.permissions ?? 7; },
  }))(this);

  // ------------------------------------------------------------------ VM exits

  /** Raises a VM exit from inside an instruction or access: it unwinds like a fault. */
  raiseExit(exit: VmExit): never {
    this.pending = exit;
    throw new CpuFault(VMEXIT_VECTOR, -1);
  }

  /** Raises an exit with a basic reason, qualification and the instruction's length. */
  exitFor(reason: number, qualification = 0, instructionLength = 0, instructionInfo = 0): never {
    return this.raiseExit(this.exitRecord(reason, qualification, instructionLength, instructionInfo));
  }

  /**
   * An instruction's own exit, decided before it changes anything (the checks of
   * exec/vmx-exits.ts, VMCALL and the VMX instructions): performed at once instead of unwinding,
   * with cpu.eip still the instruction's address. The executor returns right after; the
   * dispatcher (Cpu.step, a compiled block) finds `exitTaken` and does not retire the
   * instruction. Same outcome as `exitFor`, without a throw (V8 spends some 300 ns on each).
   */
  exitInstead(reason: number, qualification = 0, instructionLength = 0, instructionInfo = 0): true {
    this.exitTaken = InstructionExit.TAKEN;
    if (this.fastExit !== null && this.tryFastExit(reason, qualification, instructionLength)) return true;
    this.performExit(this.exitRecord(reason, qualification, instructionLength, instructionInfo));
    return true;
  }

  exitInsteadWith(exit: VmExit): true {
    this.exitTaken = InstructionExit.TAKEN;
    if (this.fastExit !== null && this.tryFastExit(exit.reason, exit.qualification, exit.instructionLength)) return true;
    this.performExit(exit);
    return true;
  }

  /**
   * Offers an instruction's exit to `fastExit`. True when the guest resumed (the exit is over);
   * false when the exit is to happen, before the instruction or (FastExit.EXIT_AFTER) after it.
   */
  private tryFastExit(reason: number, qualification: number, instructionLength: number): boolean {
    if (!this.stopOnExit || this.exitMsrStores !== 0 || this.proc & Proc.MONITOR_TRAP_FLAG) return false;
    const tsc = this.rawTsc();
    const answer = this.fastExit!(reason, qualification, instructionLength);
    if (answer === FastExit.DECLINED) return false;
    const cpu = this.cpu;
    cpu.eip = cpu.nextEip = ((cpu.eip >>> 0) + instructionLength) >>> 0;
    cpu.interruptShadow = false;
    cpu.movSsShadow = false;
    if (answer < 0) {
      // The exit happened before the emulation took its time: the timer is saved as of then.
      this.exitTsc = tsc;
      return false;
    }
    this.resumeHeld(answer - 1, answer);
    this.exitTaken = InstructionExit.RESUMED;
    return true;
  }

  /**
   * The VM entry after an exit completed in place or inline (FastExit, InlineExits): the guest
   * never left and no field changed, so the entry checks and loads have nothing to do. The
   * preemption timer is armed with `timer` as entry arms it and the run's budget renewed.
   * STI/MOV SS blocking, which the instruction's completion ends, is no concern here:
   * `tryFastExit` ends it, and compiled blocks, which make inline exits, never run under it.
   * `entryIcount` is left: only the MTF reads it, and the MTF keeps exits off the fast path.
   */
  resumeHeld(timer: number, budget: number): void {
    const cpu = this.cpu, icount = cpu.icount;
    this.fastExits++;
    const runEnd = cpu.runEnd = icount + budget;
    // armChainBudget, knowing the timer: it fires `ticks` instructions from now.
    if (this.pin & Pin.PREEMPTION_TIMER) {
      const ticks = timer * PreemptionTimer.TICKS;
      this.timerDeadline = icount + cpu.tscOffsetNumber + ticks;
      cpu.chainBudget = Math.min(runEnd, icount + Math.max(1, ticks));
    } else {
      this.timerDeadline = Infinity;
      cpu.chainBudget = runEnd;
    }
  }

  /**
   * Set by `exitInstead`: the current instruction exited (TAKEN), or its exit was completed on
   * the fast path and the guest resumed after it (RESUMED); its dispatcher clears it (NONE).
   * Either way the instruction did not retire.
   */
  exitTaken: InstructionExit = InstructionExit.NONE;

  /** An exit record to fill in further (guest-linear address...) before `raiseExit`. */
  exitRecord(reason: number, qualification = 0, instructionLength = 0, instructionInfo = 0): VmExit {
    const e = newExit(reason);
    e.qualification = qualification >>> 0;
    e.instructionLength = instructionLength;
    e.instructionInfo = instructionInfo >>> 0;
    return e;
  }

  /**
   * Finishes the pending exit at an instruction boundary (cpu.eip is the guest RIP to save).
   * `delivering` is the event whose delivery the exit interrupted, if any.
   */
  completeExit(delivering: { vector: number; errorCode: number; kind: string } | null): void {
    const exit = this.pending ?? newExit(ExitReason.TRIPLE_FAULT);
    this.pending = null;
    if (delivering && delivering.vector !== VMEXIT_VECTOR) setVectoring(exit, delivering.vector, delivering.errorCode, delivering.kind);
    this.performExit(exit);
  }

  /** The exit being raised interrupted the delivery of this event (INT n, INT3, INTO). */
  recordVectoring(vector: number, errorCode: number, kind: string): void {
    if (this.pending) setVectoring(this.pending, vector, errorCode, kind);
  }

  /** Exit at an instruction boundary for a reason decided outside an instruction (window, timer). */
  exitNow(reason: number, qualification = 0): void {
    const e = newExit(reason);
    e.qualification = qualification;
    this.performExit(e);
  }

  /** Saves the guest, records the exit, loads the host (SDM 27.2-27.5). */
  private performExit(exit: VmExit): void {
    const cpu = this.cpu;
    const vmcs = this.vmcs!;
    exit.guestRip = cpu.eip >>> 0;
    this.saveGuestState(vmcs);
    // Exit information, written where it changed (most of it stays 0 exit after exit).
    const e = this.gatheredExit;
    e[0] = exit.reason | (exit.entryFailure ? 0x80000000 : 0); e[1] = exit.qualification; e[2] = exit.instructionLength;
    e[3] = exit.instructionInfo; e[4] = exit.guestLinearAddress; e[5] = exit.guestPhysicalAddress;
    e[6] = exit.interruptionInfo; e[7] = exit.interruptionErrorCode; e[8] = exit.idtVectoringInfo; e[9] = exit.idtVectoringErrorCode;
    writeChanged(vmcs, EXIT_INFO_FIELDS, EXIT_INFO_WORDS, e);
    if (this.exitMsrStores > 0) this.storeMsrList(vmcs.read(F.VM_EXIT_MSR_STORE_ADDR), this.exitMsrStores);
    if (this.deferHostState && this.stopOnExit && this.exitMsrLoads === 0) this.deferHost(vmcs);
    else {
      this.loadHost(vmcs);
      if (this.exitMsrLoads > 0 && this.loadMsrList(vmcs.read(F.VM_EXIT_MSR_LOAD_ADDR), this.exitMsrLoads)) this.abort();
    }
    this.record(exit);
  }

  /**
   * Back in root operation with the guest left on the processor (just saved: it equals the
   * VMCS's guest state), the host state owed until `loadPendingHostState`.
   */
  private deferHost(vmcs: VmcsRegion): void {
    this.nonRoot = false;
    this.timerDeadline = Infinity;
    const verified = vmcs.verifiedChecks;
    if (!(verified & HeldByProcessor.GUEST)) vmcs.verifiedChecks = verified | HeldByProcessor.GUEST;
    this.hostPending = vmcs;
  }

  /** Back in root operation with the host state loaded from `vmcs` (SDM 27.5). */
  private loadHost(vmcs: VmcsRegion): void {
    this.hostPending = null;
    this.leaveNonRoot();
    this.loadHostState(vmcs);
  }

  /** A VMX abort: the processor stops (SDM 27.7). Reported as a shutdown of the machine. */
  private abort(): void {
    new VmcsRegion(this.cpu.mem, this.currentVmcs).abortIndicator = 1;
    this.cpu.stopRequest = 'VMX abort (VM-exit MSR loading failed)';
  }

  /**
   * Loads the host state an exit deferred (`deferHostState`), as the exit would have: called
   * before anything runs in root operation or changes the current VMCS.
   */
  loadPendingHostState(): void {
    if (this.hostPending !== null) this.loadHost(this.hostPending);
  }

  private record(exit: VmExit): void {
    this.lastExit = exit;
    if (this.stopOnExit) this.cpu.stopRequest ??= 'vm-exit';
  }

  /** A failed entry on guest state or MSR loading: exit reason with bit 31, host state loaded. */
  private entryFailed(vmcs: VmcsRegion, reason: number, qualification: number): void {
    const exit = newExit(reason);
    exit.entryFailure = true;
    exit.qualification = qualification;
    exit.guestRip = vmcs.read(F.GUEST_RIP);
    vmcs.write(F.VM_EXIT_REASON, (reason | 0x80000000) >>> 0);
    vmcs.write(F.EXIT_QUALIFICATION, qualification);
    this.loadHost(vmcs);
    this.record(exit);
  }

  /**
   * Back to root operation. With VPIDs the guest's translations stay cached under its tag and
   * the host's (VPID 0) were never touched; without, the one untagged TLB is flushed, as every
   * VM entry and exit without VPID flushes it (SDM 29.4.3).
   */
  private leaveNonRoot(): void {
    this.nonRoot = false;
    this.ept = null;
    this.tscOffset = 0n;
    this.timerDeadline = Infinity;
    const mmu = this.cpu.mmu;
    mmu.second = null;
    const tagged = mmu.contextTag !== '';
    mmu.selectContext('');
    if (!tagged) mmu.flush();
  }

  /** Tags of the TLB contexts VM entries created (VPID:EPT root). */
  private readonly taggedContexts = new Set<string>();

  /**
   * Saves the guest state (SDM 27.3). A field is written only when its value changed, so the
   * entry checks reading the rest stay verified (most exits change RIP, RSP and RFLAGS only).
   */
  private saveGuestState(vmcs: VmcsRegion): void {
    const cpu = this.cpu, mmu = cpu.mmu, v = this.gathered;
    v[0] = mmu.cr0; v[1] = mmu.cr3; v[2] = mmu.cr4; v[3] = cpu.dr[7]!;
    v[4] = cpu.r[4]!; v[5] = cpu.eip; v[6] = cpu.eflags & ~RF;
    v[7] = cpu.gdtBase; v[8] = cpu.gdtLimit; v[9] = cpu.idtBase; v[10] = cpu.idtLimit;
    v[11] = cpu.interruptShadow ? (cpu.movSsShadow ? 2 : 1) : 0;
    v[12] = cpu.halted ? 1 : 0;
    v[13] = 0;
    writeChanged(vmcs, SAVED_FIELDS, SAVED_WORDS, v);
    // The segment registers: only when one was loaded since this guest's were loaded or saved
    // (every change of a segment register goes through Cpu.updateSegmentBounds, which counts).
    if (cpu.segmentWrites !== this.segmentWritesSeen) {
      const g = this.gatheredSegments;
      const sel = cpu.segSel, base = cpu.segBase, limit = cpu.segLimit, attr = cpu.segAttr;
      for (let s = 0; s < 8; s++) {
        g[s] = sel[s]! & 0xffff; g[s + 8] = base[s]!; g[s + 16] = limit[s]!; g[s + 24] = attr[s]!;
      }
      writeChanged(vmcs, SAVED_SEGMENT_FIELDS, SAVED_SEGMENT_WORDS, g);
      this.segmentWritesSeen = cpu.segmentWrites;
    }
    // The SYSENTER MSRs are bigints in cpu.msr: read only when one was written since they were loaded.
    if (cpu.msrWrites !== this.msrWritesSeen) {
      const m = this.gatheredMsrs;
      m[0] = storedMsrLow32(cpu, 0x174); m[1] = storedMsrLow32(cpu, 0x175); m[2] = storedMsrLow32(cpu, 0x176);
      writeChanged(vmcs, SYSENTER_FIELDS, SYSENTER_WORDS, m);
      this.msrWritesSeen = cpu.msrWrites;
    }
    const tsc = this.exitTsc === this.exitTsc ? this.exitTsc : this.rawTsc();
    this.exitTsc = NaN;
    if (this.pin & Pin.PREEMPTION_TIMER && this.exitControls & ExitCtl.SAVE_PREEMPTION_TIMER) {
      const left = Math.max(0, this.timerDeadline - tsc);
      vmcs.update(F.VMX_PREEMPTION_TIMER_VALUE, Math.ceil(left / PreemptionTimer.TICKS));
    }
  }
  /** The TSC at an exit taken after a fast exit handler's emulation (NaN: the TSC now). */
  private exitTsc = NaN;
  private readonly gathered = new Int32Array(SAVED_FIELDS.length);
  private readonly gatheredMsrs = new Int32Array(3);
  private readonly gatheredSegments = new Int32Array(32);
  /** cpu.segmentWrites when the guest's segment registers were last loaded or saved. */
  private segmentWritesSeen = -1;
  private readonly gatheredExit = new Int32Array(EXIT_INFO_FIELDS.length);

  /** Host state after a VM exit (SDM 27.5): flat segments, CRs, RSP/RIP, RFLAGS = 2, DR7 = 0x400. */
  private loadHostState(vmcs: VmcsRegion): void {
    const cpu = this.cpu, mmu = cpu.mmu;
    mmu.cr0 = vmcs.read(F.HOST_CR0) | CR0_PE | CR0_NE | CR0_PG;
    mmu.cr3 = vmcs.read(F.HOST_CR3);
    mmu.cr4 = vmcs.read(F.HOST_CR4);
    cpu.dr[7] = 0x400;
    cpu.updateDebugState();
    cpu.lf.load(0x2);
    cpu.r[4] = vmcs.read(F.HOST_RSP);
    cpu.eip = cpu.nextEip = vmcs.read(F.HOST_RIP);
    cpu.cpl = 0;
    for (const [s, selector, base] of HOST_SEGMENTS) {
      const sel = vmcs.read(selector);
      cpu.segSel[s] = sel;
      cpu.segBase[s] = base < 0 ? 0 : vmcs.read(base);
      cpu.segLimit[s] = s === SegReg.TR ? 0x67 : -1;
      // CS is a flat code segment, TR a busy TSS; a data segment with a null selector is unusable.
      cpu.segAttr[s] = s === SegReg.CS ? 0xc09b : s === SegReg.TR ? 0x8b : sel ? 0xc093 : SEG_ATTR_UNUSABLE | 0xc093;
      cpu.updateSegmentBounds(s);
    }
    cpu.segSel[SegReg.LDTR] = 0; cpu.segBase[SegReg.LDTR] = 0; cpu.segLimit[SegReg.LDTR] = 0; cpu.segAttr[SegReg.LDTR] = SEG_ATTR_UNUSABLE;
    cpu.updateSegmentBounds(SegReg.LDTR);
    cpu.gdtBase = vmcs.read(F.HOST_GDTR_BASE); cpu.gdtLimit = 0xffff;
    cpu.idtBase = vmcs.read(F.HOST_IDTR_BASE); cpu.idtLimit = 0xffff;
    loadStoredMsr32(cpu, 0x174, vmcs.read(F.HOST_IA32_SYSENTER_CS));
    loadStoredMsr32(cpu, 0x175, vmcs.read(F.HOST_IA32_SYSENTER_ESP));
    loadStoredMsr32(cpu, 0x176, vmcs.read(F.HOST_IA32_SYSENTER_EIP));
    cpu.interruptShadow = false;
    cpu.movSsShadow = false;
    cpu.halted = false;
  }

  // ------------------------------------------------------------------ non-root decisions

  /**
   * Does the pending event exit instead of being delivered (exception bitmap, triple fault)?
   * Called by Cpu.deliverEvent for exceptions in non-root operation; raises nothing, returns true
   * after performing the exit.
   */
  interceptException(vector: number, errorCode: number, kind: string): boolean {
    if (vector > 31) return false;
    let exits = ((this.exceptionBitmap >>> vector) & 1) === 1;
    if (vector === Vector.PF) exits = exits === (((errorCode & this.pfMask) >>> 0) === (this.pfMatch >>> 0));
    if (!exits) return false;
    const e = newExit(ExitReason.EXCEPTION_NMI);
    const type = kind === 'software-exception' ? 6 : 3;
    e.interruptionInfo = (0x80000000 | (type << 8) | vector | (errorCode >= 0 ? 0x800 : 0)) >>> 0;
    e.interruptionErrorCode = Math.max(0, errorCode);
    if (vector === Vector.PF) e.qualification = this.cpu.mmu.faultAddress >>> 0;
    if (vector === Vector.DB) e.qualification = this.cpu.dr[6]! & 0x600f;
    if (type === 6) e.instructionLength = ((this.cpu.nextEip - this.cpu.eip) >>> 0) & 0xf;
    this.performExit(e);
    return true;
  }

  /** A triple fault in non-root operation is a VM exit (reason 2), not a shutdown. */
  tripleFault(): void {
    this.performExit(newExit(ExitReason.TRIPLE_FAULT));
  }

  /** The guest's TSC: the processor's plus TSC_OFFSET when offsetting is on. */
  guestTscAdjust(): bigint {
    return this.nonRoot ? this.tscOffset : 0n;
  }

  /** CR0 bits that must stay 1 in VMX operation: PE, NE, PG (PE and PG free for an unrestricted guest). */
  cr0FixedOnes(): number {
    return this.nonRoot && this.proc2 & Proc2.UNRESTRICTED_GUEST ? CR0_NE : (CR0_PE | CR0_NE | CR0_PG) >>> 0;
  }

  /** CR0/CR4 as the guest reads them: masked bits come from the read shadow. */
  shadowedCr(n: 0 | 4, actual: number): number {
    if (!this.nonRoot) return actual;
    const [m, s] = n === 0 ? [this.cr0Mask, this.cr0Shadow] : [this.cr4Mask, this.cr4Shadow];
    return ((actual & ~m) | (s & m)) >>> 0;
  }

  /** MOV to CR3: exits with CR3-load exiting unless the value is one of the CR3-target values. */
  cr3LoadExits(value: number): boolean {
    if (!(this.proc & Proc.CR3_LOAD_EXITING)) return false;
    const vmcs = this.vmcs!;
    const count = vmcs.read(F.CR3_TARGET_COUNT);
    const targets = [F.CR3_TARGET_VALUE0, F.CR3_TARGET_VALUE1, F.CR3_TARGET_VALUE2, F.CR3_TARGET_VALUE3];
    for (let i = 0; i < count; i++) if ((vmcs.read(targets[i]!) >>> 0) === (value >>> 0)) return false;
    return true;
  }

  /** Is port I/O at [port, port + size) intercepted (I/O bitmaps or unconditional I/O exiting)? */
  ioExits(port: number, size: number): boolean {
    if (!(this.proc & Proc.USE_IO_BITMAPS)) return (this.proc & Proc.UNCONDITIONAL_IO_EXITING) !== 0;
    for (let p = port; p < port + size; p++) {
      if (p > 0xffff) return true; // wraps around the 64 KiB space
      const bitmap = p < 0x8000 ? this.ioBitmapA : this.ioBitmapB;
      const bit = p & 0x7fff;
      if ((this.cpu.mem.read8(bitmap + (bit >>> 3)) >>> (bit & 7)) & 1) return true;
    }
    return false;
  }

  /** Is RDMSR/WRMSR of ECX intercepted (MSR bitmaps, or always without them)? */
  msrExits(index: number, write: boolean): boolean {
    if (!(this.proc & Proc.USE_MSR_BITMAPS)) return true;
    index >>>= 0;
    let base: number;
    if (index <= 0x1fff) base = write ? 2048 : 0;
    else if (index >= 0xc0000000 && index <= 0xc0001fff) base = write ? 3072 : 1024;
    else return true;
    const bit = index & 0x1fff;
    return ((this.cpu.mem.read8(this.msrBitmap + base + (bit >>> 3)) >>> (bit & 7)) & 1) === 1;
  }

  /**
   * Checks at an instruction boundary in non-root operation, in the SDM's priority order: the
   * preemption timer, then the monitor trap flag, then the interrupt window. Returns true after
   * an exit.
   */
  boundaryExit(): boolean {
    const cpu = this.cpu;
    if (this.timerDeadline !== Infinity && this.rawTsc() >= this.timerDeadline) {
      this.exitNow(ExitReason.PREEMPTION_TIMER);
      return true;
    }
    if (this.proc & Proc.MONITOR_TRAP_FLAG && cpu.icount !== this.entryIcount) {
      this.exitNow(ExitReason.MONITOR_TRAP_FLAG);
      return true;
    }
    if (this.proc & Proc.INTERRUPT_WINDOW_EXITING && (cpu.lf.flags & IF) && !cpu.interruptShadow) {
      this.exitNow(ExitReason.INTERRUPT_WINDOW);
      return true;
    }
    return false;
  }

  /** True when non-root execution must be checked between every instruction (MTF, windows). */
  get needsBoundaryChecks(): boolean {
    return this.nonRoot && (this.proc & (Proc.MONITOR_TRAP_FLAG | Proc.INTERRUPT_WINDOW_EXITING)) !== 0;
  }

  /** External interrupt while non-root with external-interrupt exiting: exit reason 1. */
  externalInterruptExit(): boolean {
    const cpu = this.cpu;
    if (!(this.pin & Pin.EXTERNAL_INTERRUPT_EXITING) || !cpu.intr?.hasPendingInterrupt()) return false;
    const e = newExit(ExitReason.EXTERNAL_INTERRUPT);
    if (this.vmcs!.read(F.VM_EXIT_CONTROLS) & ExitCtl.ACK_INTERRUPT_ON_EXIT) {
      e.interruptionInfo = (0x80000000 | cpu.intr.acknowledge()) >>> 0;
    }
    cpu.halted = false;
    this.performExit(e);
    return true;
  }

  // ------------------------------------------------------------------ emulation service

  /** True while a hypervisor emulates an instruction in the guest's context (no exits then). */
  emulating = false;

  /**
   * Runs `fn` against the current VMCS's guest state, as a hypervisor's instruction emulator
   * would (KVM's x86 emulator): the guest's registers, segments, control registers and EPT are
   * put on the processor, `fn` runs with exits suppressed, the result is written back to the
   * VMCS, and the host state returns. The caller has the guest's general registers in cpu.r.
   * This is a software service of the TypeScript API, not an architectural VMX operation.
   * Returns the exception `fn` raised in the guest's context (to inject), or null.
   */
  emulateInGuestContext(fn: () => void): { vector: number; errorCode: number } | null {
    const cpu = this.cpu, vmcs = this.vmcs;
    if (!vmcs || this.nonRoot) throw new Error('emulateInGuestContext: needs a current VMCS in root operation');
    if (this.hostPending !== null && this.hostPending !== vmcs) this.loadPendingHostState();
    this.loadGuestState(vmcs, vmcs.read(F.GUEST_RFLAGS), vmcs.verifiedChecks);
    const proc = vmcs.read(F.CPU_BASED_VM_EXEC_CONTROL);
    const proc2 = proc & Proc.ACTIVATE_SECONDARY_CONTROLS ? vmcs.read(F.SECONDARY_VM_EXEC_CONTROL) : 0;
    this.ept = proc2 & Proc2.ENABLE_EPT ? this.eptWalkerOf(vmcs) : null;
    cpu.mmu.second = this.ept ? this.translator : null;
    cpu.mmu.selectContext('');
    cpu.mmu.flush();
    this.emulating = true;
    let fault: { vector: number; errorCode: number } | null = null;
    try {
      fn();
    } catch (e) {
      if (!(e instanceof CpuFault)) throw e;
      if (e.vector === VMEXIT_VECTOR) {
        this.pending = null;
        throw new Error('emulateInGuestContext: the emulated instruction touched memory outside the guest\'s EPT map');
      }
      fault = { vector: e.vector, errorCode: e.errorCode };
    } finally {
      this.emulating = false;
      this.segmentWritesSeen = -1; // an emulated task switch may fault with selectors half loaded
      this.saveGuestState(vmcs);
      vmcs.write(F.GUEST_ACTIVITY_STATE, 0);
      cpu.halted = false;
      cpu.mmu.flush();
      // As after an exit: the guest may stay on the processor until root operation is needed.
      if (this.deferHostState) this.deferHost(vmcs);
      else this.loadHost(vmcs);
    }
    return fault;
  }

  // ------------------------------------------------------------------ the TypeScript API

  /**
   * VM entry from TypeScript: the same checks and loading as VMLAUNCH/VMRESUME, then runs the
   * guest until its next VM exit (or `maxInstructions`), and returns what happened.
   */
  enter(launch: boolean, maxInstructions = Number.MAX_SAFE_INTEGER): EnterResult {
    const cpu = this.cpu;
    if (!this.inVmxOperation) throw new Error('enter() outside VMX operation: call vmxon() first');
    if (this.nonRoot) throw new Error('enter() while already in non-root operation');
    cpu.nextEip = cpu.eip;
    const before = this.lastExit;
    const status = this.vmentry(launch);
    if (!status.ok) return { kind: 'fail', status };
    if (this.lastExit !== before && !this.nonRoot) return { kind: 'exit', exit: this.lastExit! };
    this.stopOnExit = true;
    try {
      const stop = cpu.run(maxInstructions);
      if (this.lastExit !== before && !this.nonRoot) return { kind: 'exit', exit: this.lastExit! };
      return stop.kind === 'halted' ? { kind: 'halted' } : { kind: 'budget' };
    } finally {
      this.stopOnExit = false;
    }
  }

  // ------------------------------------------------------------------ misc

  /** Used by RF handling on exit and a few checks. */
  static readonly TRAP_FLAGS = TF;
}

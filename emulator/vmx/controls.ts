/**
 * VMX controls, exit reasons, instruction errors and the capability MSRs that advertise what this
 * processor supports (Intel SDM Vol. 3C chapters 25, 27, 31 and Vol. 3D appendices A and C).
 *
 * The capability MSRs are the contract: VM entry accepts exactly the control settings they allow,
 * so a hypervisor that reads them (as KVM does) never asks for something the emulator lacks.
 */

/** Pin-based VM-execution controls (SDM 25.6.1). */
export const Pin = {
  EXTERNAL_INTERRUPT_EXITING: 1 << 0,
  NMI_EXITING: 1 << 3,
  VIRTUAL_NMIS: 1 << 5,
  PREEMPTION_TIMER: 1 << 6,
} as const;

/** Primary processor-based VM-execution controls (SDM 25.6.2). */
export const Proc = {
  INTERRUPT_WINDOW_EXITING: 1 << 2,
  USE_TSC_OFFSETTING: 1 << 3,
  HLT_EXITING: 1 << 7,
  INVLPG_EXITING: 1 << 9,
  MWAIT_EXITING: 1 << 10,
  RDPMC_EXITING: 1 << 11,
  RDTSC_EXITING: 1 << 12,
  CR3_LOAD_EXITING: 1 << 15,
  CR3_STORE_EXITING: 1 << 16,
  NMI_WINDOW_EXITING: 1 << 22,
  MOV_DR_EXITING: 1 << 23,
  UNCONDITIONAL_IO_EXITING: 1 << 24,
  USE_IO_BITMAPS: 1 << 25,
  MONITOR_TRAP_FLAG: 1 << 27,
  USE_MSR_BITMAPS: 1 << 28,
  MONITOR_EXITING: 1 << 29,
  PAUSE_EXITING: 1 << 30,
  ACTIVATE_SECONDARY_CONTROLS: 1 << 31,
} as const;

/** Secondary processor-based VM-execution controls (SDM 25.6.2). */
export const Proc2 = {
  ENABLE_EPT: 1 << 1,
  DESCRIPTOR_TABLE_EXITING: 1 << 2,
  ENABLE_RDTSCP: 1 << 3,
  ENABLE_VPID: 1 << 5,
  WBINVD_EXITING: 1 << 6,
  UNRESTRICTED_GUEST: 1 << 7,
} as const;

/** VM-exit controls (SDM 25.7.1). */
export const ExitCtl = {
  SAVE_DEBUG_CONTROLS: 1 << 2,
  HOST_ADDRESS_SPACE_SIZE: 1 << 9,
  ACK_INTERRUPT_ON_EXIT: 1 << 15,
  SAVE_PREEMPTION_TIMER: 1 << 22,
} as const;

/** VM-entry controls (SDM 25.8.1). */
export const EntryCtl = {
  LOAD_DEBUG_CONTROLS: 1 << 2,
  IA32E_MODE_GUEST: 1 << 9,
} as const;

/** Basic exit reasons (SDM appendix C). */
export const ExitReason = {
  EXCEPTION_NMI: 0, EXTERNAL_INTERRUPT: 1, TRIPLE_FAULT: 2, INIT: 3, SIPI: 4,
  INTERRUPT_WINDOW: 7, NMI_WINDOW: 8, TASK_SWITCH: 9, CPUID: 10, GETSEC: 11, HLT: 12, INVD: 13,
  INVLPG: 14, RDPMC: 15, RDTSC: 16, VMCALL: 18, VMCLEAR: 19, VMLAUNCH: 20, VMPTRLD: 21,
  VMPTRST: 22, VMREAD: 23, VMRESUME: 24, VMWRITE: 25, VMXOFF: 26, VMXON: 27, CR_ACCESS: 28,
  DR_ACCESS: 29, IO_INSTRUCTION: 30, RDMSR: 31, WRMSR: 32, INVALID_GUEST_STATE: 33,
  MSR_LOADING: 34, MWAIT: 36, MONITOR_TRAP_FLAG: 37, MONITOR: 39, PAUSE: 40,
  GDTR_IDTR_ACCESS: 46, LDTR_TR_ACCESS: 47, EPT_VIOLATION: 48, EPT_MISCONFIG: 49, INVEPT: 50,
  RDTSCP: 51, PREEMPTION_TIMER: 52, INVVPID: 53, WBINVD: 54,
} as const;
export type ExitReasonName = keyof typeof ExitReason;
export const EXIT_REASON_NAMES: ReadonlyMap<number, ExitReasonName> = new Map(
  Object.entries(ExitReason).map(([k, v]) => [v, k as ExitReasonName]));

/** VM-instruction error numbers (SDM 31.4). */
export const VmInstructionError = {
  VMCALL_IN_ROOT: 1,
  VMCLEAR_INVALID_ADDRESS: 2,
  VMCLEAR_VMXON_POINTER: 3,
  VMLAUNCH_NON_CLEAR: 4,
  VMRESUME_NON_LAUNCHED: 5,
  VMRESUME_AFTER_VMXOFF: 6,
  ENTRY_INVALID_CONTROLS: 7,
  ENTRY_INVALID_HOST_STATE: 8,
  VMPTRLD_INVALID_ADDRESS: 9,
  VMPTRLD_VMXON_POINTER: 10,
  VMPTRLD_WRONG_REVISION: 11,
  UNSUPPORTED_COMPONENT: 12,
  VMWRITE_READ_ONLY: 13,
  VMXON_IN_ROOT: 15,
  ENTRY_EVENTS_BLOCKED_BY_MOV_SS: 26,
  INVALID_INVEPT_INVVPID_OPERAND: 28,
} as const;

/** The VMCS revision identifier this processor uses (IA32_VMX_BASIC bits 30:0). */
export const VMCS_REVISION = 0x54565831 & 0x7fffffff; // "1XVT"

/**
 * Preemption-timer rate: the timer counts down by 1 every 2^X TSC ticks (IA32_VMX_MISC 4:0).
 * X = 0 here: the TSC ticks once per retired instruction, so a timer value is an exact
 * instruction count and a hypervisor can slice time (and deliver device interrupts) to the
 * instruction, as deterministic replay and migration need.
 */
export const PREEMPTION_TIMER_RATE = 0;
/**
 * The preemption timer's arithmetic on the exit fast path: TSC ticks per timer unit
 * (2^PREEMPTION_TIMER_RATE). A property of a constant object, which V8 folds into the code that
 * reads it: it does not fold a module's constants, and `2 ** PREEMPTION_TIMER_RATE` computed at
 * every entry cost 2 ns of a 20 ns inline CPUID, the product with a module constant 1-2 ns.
 */
export const PreemptionTimer = { TICKS: 2 ** PREEMPTION_TIMER_RATE } as const;

/** Allowed settings of a control: a bit of `must1` must be 1; a bit outside `may1` must be 0. */
export interface ControlCapability {
  readonly must1: number;
  readonly may1: number;
}

const PIN_DEFAULT1 = 0x16;
const PROC_DEFAULT1 = 0x0401e172;
const EXIT_DEFAULT1 = 0x00036dff;
const ENTRY_DEFAULT1 = 0x000011ff;

const PIN_MAY1 = PIN_DEFAULT1 | Object.values(Pin).reduce((a, b) => a | b, 0);
const PROC_MAY1 = PROC_DEFAULT1 | Object.values(Proc).reduce((a, b) => a | b, 0);
const PROC2_MAY1 = Object.values(Proc2).reduce((a, b) => a | b, 0);
// Host address-space size stays 0: the host is 32-bit (no IA-32e mode on this processor).
const EXIT_MAY1 = EXIT_DEFAULT1 | ExitCtl.ACK_INTERRUPT_ON_EXIT | ExitCtl.SAVE_PREEMPTION_TIMER;
const ENTRY_MAY1 = ENTRY_DEFAULT1;

/**
 * The controls VM entry checks against: the TRUE capability MSRs (IA32_VMX_BASIC bit 55 is set),
 * which let CR3-load/store exiting and the debug-control save/load be 0 as KVM uses them.
 */
export const CAPABILITY = {
  pin: { must1: PIN_DEFAULT1, may1: PIN_MAY1 },
  proc: { must1: PROC_DEFAULT1 & ~(Proc.CR3_LOAD_EXITING | Proc.CR3_STORE_EXITING), may1: PROC_MAY1 },
  proc2: { must1: 0, may1: PROC2_MAY1 },
  exit: { must1: EXIT_DEFAULT1 & ~ExitCtl.SAVE_DEBUG_CONTROLS, may1: EXIT_MAY1 },
  entry: { must1: ENTRY_DEFAULT1 & ~EntryCtl.LOAD_DEBUG_CONTROLS, may1: ENTRY_MAY1 },
} as const satisfies Record<string, ControlCapability>;

/** CR0 and CR4 bits fixed in VMX operation (IA32_VMX_CR0/CR4_FIXED0/1). */
export const CR0_FIXED0 = 0x80000021; // PG, NE, PE
export const CR0_FIXED1 = 0xffffffff;
export const CR4_FIXED0 = 0x2000; // VMXE
export const CR4_FIXED1 = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x80 | 0x2000;

/** EPT and VPID capabilities (IA32_VMX_EPT_VPID_CAP, SDM appendix A.10). */
export const EPT_VPID_CAP = {
  EXECUTE_ONLY: 1n << 0n,
  PAGE_WALK_4: 1n << 6n,
  MEMTYPE_UC: 1n << 8n,
  MEMTYPE_WB: 1n << 14n,
  PAGE_2MB: 1n << 16n,
  INVEPT: 1n << 20n,
  ACCESSED_DIRTY: 1n << 21n,
  INVEPT_SINGLE: 1n << 25n,
  INVEPT_ALL: 1n << 26n,
  INVVPID: 1n << 32n,
  INVVPID_ADDRESS: 1n << 40n,
  INVVPID_SINGLE: 1n << 41n,
  INVVPID_ALL: 1n << 42n,
  INVVPID_SINGLE_KEEP_GLOBALS: 1n << 43n,
} as const;

/** MSR indices of the VMX capability registers. */
export const VmxMsr = {
  IA32_VMX_BASIC: 0x480, IA32_VMX_PINBASED_CTLS: 0x481, IA32_VMX_PROCBASED_CTLS: 0x482,
  IA32_VMX_EXIT_CTLS: 0x483, IA32_VMX_ENTRY_CTLS: 0x484, IA32_VMX_MISC: 0x485,
  IA32_VMX_CR0_FIXED0: 0x486, IA32_VMX_CR0_FIXED1: 0x487, IA32_VMX_CR4_FIXED0: 0x488,
  IA32_VMX_CR4_FIXED1: 0x489, IA32_VMX_VMCS_ENUM: 0x48a, IA32_VMX_PROCBASED_CTLS2: 0x48b,
  IA32_VMX_EPT_VPID_CAP: 0x48c, IA32_VMX_TRUE_PINBASED_CTLS: 0x48d, IA32_VMX_TRUE_PROCBASED_CTLS: 0x48e,
  IA32_VMX_TRUE_EXIT_CTLS: 0x48f, IA32_VMX_TRUE_ENTRY_CTLS: 0x490,
} as const;

const pair = (must1: number, may1: number): bigint => (BigInt(may1 >>> 0) << 32n) | BigInt(must1 >>> 0);

/** Read-only values of the capability MSRs (WRMSR to any of them raises #GP(0)). */
export function capabilityMsrs(highestFieldIndex: number): ReadonlyMap<number, bigint> {
  const eptCap = Object.values(EPT_VPID_CAP).reduce((a, b) => a | b, 0n);
  return new Map<number, bigint>([
    // Revision, region size 4096 (bits 44:32), 32-bit physical addresses (bit 48), write-back
    // memory type (bits 53:50 = 6), INS/OUTS instruction information (bit 54), TRUE controls (55).
    [VmxMsr.IA32_VMX_BASIC, BigInt(VMCS_REVISION) | (4096n << 32n) | (1n << 48n) | (6n << 50n) | (1n << 54n) | (1n << 55n)],
    [VmxMsr.IA32_VMX_PINBASED_CTLS, pair(PIN_DEFAULT1, PIN_MAY1)],
    [VmxMsr.IA32_VMX_PROCBASED_CTLS, pair(PROC_DEFAULT1, PROC_MAY1)],
    [VmxMsr.IA32_VMX_EXIT_CTLS, pair(EXIT_DEFAULT1, EXIT_MAY1)],
    [VmxMsr.IA32_VMX_ENTRY_CTLS, pair(ENTRY_DEFAULT1, ENTRY_MAY1)],
    // Timer rate, HLT activity state (bit 6), 4 CR3-target values (bits 24:16), 512-entry MSR lists.
    [VmxMsr.IA32_VMX_MISC, BigInt(PREEMPTION_TIMER_RATE) | (1n << 6n) | (4n << 16n)],
    [VmxMsr.IA32_VMX_CR0_FIXED0, BigInt(CR0_FIXED0)],
    [VmxMsr.IA32_VMX_CR0_FIXED1, BigInt(CR0_FIXED1)],
    [VmxMsr.IA32_VMX_CR4_FIXED0, BigInt(CR4_FIXED0)],
    [VmxMsr.IA32_VMX_CR4_FIXED1, BigInt(CR4_FIXED1)],
    [VmxMsr.IA32_VMX_VMCS_ENUM, BigInt(highestFieldIndex << 1)],
    [VmxMsr.IA32_VMX_PROCBASED_CTLS2, pair(0, PROC2_MAY1)],
    [VmxMsr.IA32_VMX_EPT_VPID_CAP, eptCap],
    [VmxMsr.IA32_VMX_TRUE_PINBASED_CTLS, pair(CAPABILITY.pin.must1, CAPABILITY.pin.may1)],
    [VmxMsr.IA32_VMX_TRUE_PROCBASED_CTLS, pair(CAPABILITY.proc.must1, CAPABILITY.proc.may1)],
    [VmxMsr.IA32_VMX_TRUE_EXIT_CTLS, pair(CAPABILITY.exit.must1, CAPABILITY.exit.may1)],
    [VmxMsr.IA32_VMX_TRUE_ENTRY_CTLS, pair(CAPABILITY.entry.must1, CAPABILITY.entry.may1)],
  ]);
}

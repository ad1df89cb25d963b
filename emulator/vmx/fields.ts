/**
 * The VMCS fields this processor supports, with the encodings of Intel SDM Vol. 3D appendix B.
 *
 * An encoding is 32 bits: bit 0 access type (1 = the high half of a 64-bit field), bits 9:1 index,
 * bits 11:10 type (0 control, 1 VM-exit information (read-only), 2 guest state, 3 host state),
 * bits 14:13 width (0 16-bit, 1 64-bit, 2 32-bit, 3 natural width); bits 31:15 must be 0.
 * This is an IA-32 processor, so natural-width fields hold 32 bits.
 *
 * Each field gets an 8-byte slot in the VMCS region (see vmcs.ts); that layout is this
 * implementation's own, as the SDM leaves it to the processor.
 */

export const VmcsField = {
  // 16-bit control
  VIRTUAL_PROCESSOR_ID: 0x0000,
  // 16-bit guest state
  GUEST_ES_SELECTOR: 0x0800, GUEST_CS_SELECTOR: 0x0802, GUEST_SS_SELECTOR: 0x0804, GUEST_DS_SELECTOR: 0x0806,
  GUEST_FS_SELECTOR: 0x0808, GUEST_GS_SELECTOR: 0x080a, GUEST_LDTR_SELECTOR: 0x080c, GUEST_TR_SELECTOR: 0x080e,
  // 16-bit host state
  HOST_ES_SELECTOR: 0x0c00, HOST_CS_SELECTOR: 0x0c02, HOST_SS_SELECTOR: 0x0c04, HOST_DS_SELECTOR: 0x0c06,
  HOST_FS_SELECTOR: 0x0c08, HOST_GS_SELECTOR: 0x0c0a, HOST_TR_SELECTOR: 0x0c0c,
  // 64-bit control
  IO_BITMAP_A: 0x2000, IO_BITMAP_B: 0x2002, MSR_BITMAP: 0x2004,
  VM_EXIT_MSR_STORE_ADDR: 0x2006, VM_EXIT_MSR_LOAD_ADDR: 0x2008, VM_ENTRY_MSR_LOAD_ADDR: 0x200a,
  TSC_OFFSET: 0x2010, EPT_POINTER: 0x201a,
  // 64-bit read-only
  GUEST_PHYSICAL_ADDRESS: 0x2400,
  // 64-bit guest state
  VMCS_LINK_POINTER: 0x2800, GUEST_IA32_DEBUGCTL: 0x2802,
  // 32-bit control
  PIN_BASED_VM_EXEC_CONTROL: 0x4000, CPU_BASED_VM_EXEC_CONTROL: 0x4002, EXCEPTION_BITMAP: 0x4004,
  PAGE_FAULT_ERROR_CODE_MASK: 0x4006, PAGE_FAULT_ERROR_CODE_MATCH: 0x4008, CR3_TARGET_COUNT: 0x400a,
  VM_EXIT_CONTROLS: 0x400c, VM_EXIT_MSR_STORE_COUNT: 0x400e, VM_EXIT_MSR_LOAD_COUNT: 0x4010,
  VM_ENTRY_CONTROLS: 0x4012, VM_ENTRY_MSR_LOAD_COUNT: 0x4014, VM_ENTRY_INTR_INFO_FIELD: 0x4016,
  VM_ENTRY_EXCEPTION_ERROR_CODE: 0x4018, VM_ENTRY_INSTRUCTION_LEN: 0x401a, TPR_THRESHOLD: 0x401c,
  SECONDARY_VM_EXEC_CONTROL: 0x401e,
  // 32-bit read-only
  VM_INSTRUCTION_ERROR: 0x4400, VM_EXIT_REASON: 0x4402, VM_EXIT_INTR_INFO: 0x4404, VM_EXIT_INTR_ERROR_CODE: 0x4406,
  IDT_VECTORING_INFO_FIELD: 0x4408, IDT_VECTORING_ERROR_CODE: 0x440a, VM_EXIT_INSTRUCTION_LEN: 0x440c,
  VMX_INSTRUCTION_INFO: 0x440e,
  // 32-bit guest state
  GUEST_ES_LIMIT: 0x4800, GUEST_CS_LIMIT: 0x4802, GUEST_SS_LIMIT: 0x4804, GUEST_DS_LIMIT: 0x4806,
  GUEST_FS_LIMIT: 0x4808, GUEST_GS_LIMIT: 0x480a, GUEST_LDTR_LIMIT: 0x480c, GUEST_TR_LIMIT: 0x480e,
  GUEST_GDTR_LIMIT: 0x4810, GUEST_IDTR_LIMIT: 0x4812,
  GUEST_ES_AR_BYTES: 0x4814, GUEST_CS_AR_BYTES: 0x4816, GUEST_SS_AR_BYTES: 0x4818, GUEST_DS_AR_BYTES: 0x481a,
  GUEST_FS_AR_BYTES: 0x481c, GUEST_GS_AR_BYTES: 0x481e, GUEST_LDTR_AR_BYTES: 0x4820, GUEST_TR_AR_BYTES: 0x4822,
  GUEST_INTERRUPTIBILITY_INFO: 0x4824, GUEST_ACTIVITY_STATE: 0x4826, GUEST_SYSENTER_CS: 0x482a,
  VMX_PREEMPTION_TIMER_VALUE: 0x482e,
  // 32-bit host state
  HOST_IA32_SYSENTER_CS: 0x4c00,
  // natural-width control
  CR0_GUEST_HOST_MASK: 0x6000, CR4_GUEST_HOST_MASK: 0x6002, CR0_READ_SHADOW: 0x6004, CR4_READ_SHADOW: 0x6006,
  CR3_TARGET_VALUE0: 0x6008, CR3_TARGET_VALUE1: 0x600a, CR3_TARGET_VALUE2: 0x600c, CR3_TARGET_VALUE3: 0x600e,
  // natural-width read-only
  EXIT_QUALIFICATION: 0x6400, IO_RCX: 0x6402, IO_RSI: 0x6404, IO_RDI: 0x6406, IO_RIP: 0x6408,
  GUEST_LINEAR_ADDRESS: 0x640a,
  // natural-width guest state
  GUEST_CR0: 0x6800, GUEST_CR3: 0x6802, GUEST_CR4: 0x6804,
  GUEST_ES_BASE: 0x6806, GUEST_CS_BASE: 0x6808, GUEST_SS_BASE: 0x680a, GUEST_DS_BASE: 0x680c,
  GUEST_FS_BASE: 0x680e, GUEST_GS_BASE: 0x6810, GUEST_LDTR_BASE: 0x6812, GUEST_TR_BASE: 0x6814,
  GUEST_GDTR_BASE: 0x6816, GUEST_IDTR_BASE: 0x6818, GUEST_DR7: 0x681a, GUEST_RSP: 0x681c, GUEST_RIP: 0x681e,
  GUEST_RFLAGS: 0x6820, GUEST_PENDING_DBG_EXCEPTIONS: 0x6822, GUEST_SYSENTER_ESP: 0x6824, GUEST_SYSENTER_EIP: 0x6826,
  // natural-width host state
  HOST_CR0: 0x6c00, HOST_CR3: 0x6c02, HOST_CR4: 0x6c04, HOST_FS_BASE: 0x6c06, HOST_GS_BASE: 0x6c08,
  HOST_TR_BASE: 0x6c0a, HOST_GDTR_BASE: 0x6c0c, HOST_IDTR_BASE: 0x6c0e, HOST_IA32_SYSENTER_ESP: 0x6c10,
  HOST_IA32_SYSENTER_EIP: 0x6c12, HOST_RSP: 0x6c14, HOST_RIP: 0x6c16,
} as const;
export type VmcsFieldName = keyof typeof VmcsField;
export type VmcsEncoding = (typeof VmcsField)[VmcsFieldName];

export type FieldWidth = 16 | 32 | 64 | 'natural';
export type FieldType = 'control' | 'exit-info' | 'guest' | 'host';

export interface FieldInfo {
  readonly name: VmcsFieldName;
  readonly encoding: number;
  readonly width: FieldWidth;
  readonly type: FieldType;
  /** Byte offset of the field's 8-byte slot in the VMCS region. */
  readonly offset: number;
  /**
   * What a change of this field's value invalidates: the groups of cached VM-entry checks that
   * read it (EntryCheck bits) and the processor's copies made from it (HeldByProcessor bits).
   */
  readonly checks: number;
}

/**
 * VM-entry checks that read only VMCS fields are cached (vmx.ts): a successful entry marks each
 * group verified in the VMCS region, and writing any field the group reads clears its bit, so the
 * next entry repeats exactly the groups whose inputs changed. The checks on event injection,
 * RFLAGS, activity and interruptibility change with nearly every exit and are made on every entry.
 */
export const EntryCheck = {
  /** SDM 27.2.1: the execution, exit and entry controls (but event injection). */
  CONTROLS: 1,
  /** SDM 27.2.2: the host state. */
  HOST: 2,
  /** SDM 27.3.1: guest control registers, segments, descriptor tables, link pointer. */
  GUEST: 4,
} as const;

/**
 * What the processor keeps of a VMCS between an exit and the next entry (vmx.ts), by the same
 * mechanism as the cached checks: a bit in the region's verified word, set when the processor
 * takes its copy and cleared by any write that changes a field the copy came from. (Real
 * processors hold the current VMCS on chip the same way; software sees it only through VMREAD
 * and VMWRITE, which is why the SDM leaves the region's memory undefined while it is current.)
 */
export const HeldByProcessor = {
  /** The controls VM entry turns into the processor's own state (`Vmx.loadControls`, which reads HELD_CONTROLS). */
  CONTROLS: 8,
  /**
   * The guest state that stays on the processor after an exit whose host state is deferred:
   * everything but RIP, RSP, RFLAGS, the activity and interruptibility states, the pending debug
   * exceptions and the preemption timer, which every entry loads.
   */
  GUEST: 16,
} as const;

/** Guest-state fields every VM entry loads (not in HeldByProcessor.GUEST). */
const GUEST_LOADED_AT_EVERY_ENTRY: readonly VmcsFieldName[] = [
  'GUEST_RIP', 'GUEST_RSP', 'GUEST_RFLAGS', 'GUEST_ACTIVITY_STATE', 'GUEST_INTERRUPTIBILITY_INFO',
  'GUEST_PENDING_DBG_EXCEPTIONS', 'VMX_PREEMPTION_TIMER_VALUE',
];

/** The fields `Vmx.loadControls` copies into the processor: keep the two lists the same. */
const HELD_CONTROLS: readonly VmcsFieldName[] = [
  'PIN_BASED_VM_EXEC_CONTROL', 'CPU_BASED_VM_EXEC_CONTROL', 'SECONDARY_VM_EXEC_CONTROL', 'VM_EXIT_CONTROLS',
  'EXCEPTION_BITMAP', 'PAGE_FAULT_ERROR_CODE_MASK', 'PAGE_FAULT_ERROR_CODE_MATCH', 'CR0_GUEST_HOST_MASK',
  'CR0_READ_SHADOW', 'CR4_GUEST_HOST_MASK', 'CR4_READ_SHADOW', 'TSC_OFFSET', 'EPT_POINTER', 'VIRTUAL_PROCESSOR_ID',
  'VM_ENTRY_MSR_LOAD_COUNT', 'VM_EXIT_MSR_STORE_COUNT', 'VM_EXIT_MSR_LOAD_COUNT',
  'IO_BITMAP_A', 'IO_BITMAP_B', 'MSR_BITMAP',
];

const ENTRY_CHECK_INPUTS: Readonly<Record<number, readonly VmcsFieldName[]>> = {
  [EntryCheck.CONTROLS]: [
    'PIN_BASED_VM_EXEC_CONTROL', 'CPU_BASED_VM_EXEC_CONTROL', 'SECONDARY_VM_EXEC_CONTROL', 'VM_EXIT_CONTROLS',
    'VM_ENTRY_CONTROLS', 'CR3_TARGET_COUNT', 'IO_BITMAP_A', 'IO_BITMAP_B', 'MSR_BITMAP', 'EPT_POINTER',
    'VIRTUAL_PROCESSOR_ID', 'VM_EXIT_MSR_STORE_ADDR', 'VM_EXIT_MSR_STORE_COUNT', 'VM_EXIT_MSR_LOAD_ADDR',
    'VM_EXIT_MSR_LOAD_COUNT', 'VM_ENTRY_MSR_LOAD_ADDR', 'VM_ENTRY_MSR_LOAD_COUNT',
  ],
  [EntryCheck.HOST]: [
    'HOST_CR0', 'HOST_CR4', 'HOST_ES_SELECTOR', 'HOST_CS_SELECTOR', 'HOST_SS_SELECTOR', 'HOST_DS_SELECTOR',
    'HOST_FS_SELECTOR', 'HOST_GS_SELECTOR', 'HOST_TR_SELECTOR',
  ],
  [EntryCheck.GUEST]: [
    // "unrestricted guest" relaxes several guest checks.
    'CPU_BASED_VM_EXEC_CONTROL', 'SECONDARY_VM_EXEC_CONTROL',
    'GUEST_CR0', 'GUEST_CR4', 'GUEST_GDTR_LIMIT', 'GUEST_IDTR_LIMIT', 'VMCS_LINK_POINTER', 'GUEST_PENDING_DBG_EXCEPTIONS',
    ...(['ES', 'CS', 'SS', 'DS', 'FS', 'GS', 'LDTR', 'TR'] as const).flatMap((s) => [
      `GUEST_${s}_SELECTOR`, `GUEST_${s}_BASE`, `GUEST_${s}_LIMIT`, `GUEST_${s}_AR_BYTES`,
    ] as VmcsFieldName[]),
  ],
};

const WIDTHS: readonly FieldWidth[] = [16, 64, 32, 'natural'];
const TYPES: readonly FieldType[] = ['control', 'exit-info', 'guest', 'host'];

/** First slot offset: after the revision identifier, the abort indicator, the launch state and the verified entry checks. */
export const VMCS_DATA_OFFSET = 16;

export const FIELDS: readonly FieldInfo[] = Object.entries(VmcsField).map(([name, encoding], i) => ({
  name: name as VmcsFieldName,
  encoding,
  width: WIDTHS[(encoding >> 13) & 3]!,
  type: TYPES[(encoding >> 10) & 3]!,
  offset: VMCS_DATA_OFFSET + i * 8,
  checks: Object.entries(ENTRY_CHECK_INPUTS).reduce((bits, [group, names]) => (names.includes(name as VmcsFieldName) ? bits | Number(group) : bits), 0)
    | (HELD_CONTROLS.includes(name as VmcsFieldName) ? HeldByProcessor.CONTROLS : 0)
    | (TYPES[(encoding >> 10) & 3] === 'guest' && !GUEST_LOADED_AT_EVERY_ENTRY.includes(name as VmcsFieldName) ? HeldByProcessor.GUEST : 0),
}));

export interface FieldLookup { readonly field: FieldInfo; readonly high: boolean }

/**
 * Every encoding (bits 31:15 zero) to its field and half, made once: VM entry and exit read and
 * write dozens of fields each, so a lookup is one array index and allocates nothing.
 */
const BY_ENCODING: (FieldLookup | null)[] = (() => {
  const table = new Array<FieldLookup | null>(0x8000).fill(null);
  for (const field of FIELDS) {
    table[field.encoding] = Object.freeze({ field, high: false });
    if (field.width === 64) table[field.encoding | 1] = Object.freeze({ field, high: true });
  }
  return table;
})();

/** FIELD_WORDS flags: a 16-bit field (the value is truncated); the full encoding of a 64-bit field. */
export const FIELD_16_BIT = 1, FIELD_64_BIT = 2;

/**
 * Every encoding (bits 31:15 zero) to where its value lives, for VmcsRegion's reads and writes:
 * -1 when unsupported, else (byte offset in the region << 2) | FIELD_16_BIT | FIELD_64_BIT.
 */
export const FIELD_WORDS: Int16Array = (() => {
  const table = new Int16Array(0x8000).fill(-1);
  for (const field of FIELDS) {
    table[field.encoding] = (field.offset << 2) | (field.width === 16 ? FIELD_16_BIT : 0) | (field.width === 64 ? FIELD_64_BIT : 0);
    if (field.width === 64) table[field.encoding | 1] = (field.offset + 4) << 2; // the high half alone
  }
  return table;
})();

/** The index of a supported field's first word in the VMCS region (its slot's byte offset / 4). */
export function slotWord(encoding: number): number {
  const w = FIELD_WORDS[encoding]!;
  if (w < 0) throw new RangeError(`unsupported VMCS field 0x${encoding.toString(16)}`);
  return w >> 4;
}

/** Every encoding to its field's EntryCheck bits (both halves of a 64-bit field). */
export const FIELD_CHECKS: Uint8Array = (() => {
  const table = new Uint8Array(0x8000);
  for (const field of FIELDS) {
    table[field.encoding] = field.checks;
    if (field.width === 64) table[field.encoding | 1] = field.checks;
  }
  return table;
})();

/**
 * The field an encoding names, and whether it is the high half of a 64-bit field; null for an
 * encoding this processor does not support (VMREAD/VMWRITE fail with error 12).
 */
export function lookupField(encoding: number): FieldLookup | null {
  if (encoding >>> 0 > 0x7fff) return null;
  return BY_ENCODING[encoding]!;
}

/** The field's name for an encoding (or hex for an unknown one), for traces and debuggers. */
export function fieldName(encoding: number): string {
  const f = lookupField(encoding);
  if (!f) return `0x${encoding.toString(16)}`;
  return f.high ? `${f.field.name}_HIGH` : f.field.name;
}

/** Highest index (bits 9:1) of any supported encoding: IA32_VMX_VMCS_ENUM reports it. */
export const HIGHEST_FIELD_INDEX = Math.max(...FIELDS.map((f) => (f.encoding >> 1) & 0x1ff));

/**
 * The shape of the one instruction table (emulator/isa/table.ts).
 *
 * Every instruction form of the subset is one row of data. The decoder, the disassembler, the
 * assembler, the CPU's dispatch, the VMX exit decisions and the test generators all read the parsed
 * rows; nobody writes an encoding anywhere else.
 *
 * Operand kinds use the Intel SDM's opcode-map notation (Vol. 2D, appendix A.2): an addressing
 * method letter followed by an operand-type letter.
 */

/** Addressing method + type, as in SDM appendix A.2.1/A.2.2. */
export type OperandKind =
  // ModRM r/m: register or memory.
  | 'Eb' | 'Ew' | 'Ed' | 'Ev'
  // ModRM reg: general-purpose register.
  | 'Gb' | 'Gw' | 'Gd' | 'Gv'
  // ModRM r/m that must be a register (mod = 11): MOV to/from CRn/DRn, MOV r,Sreg.
  | 'Rd' | 'Rv'
  // ModRM r/m that must be memory. M: no size (LEA, INVLPG); Mp: far pointer m16:16/m16:32;
  // Ms: pseudo-descriptor m16&32 (LGDT); Mq: 64-bit (CMPXCHG8B, VMXON); Ma: BOUND pair; Mw, Md.
  // Mdq: 128-bit descriptor (INVEPT, INVVPID).
  | 'M' | 'Mp' | 'Ms' | 'Mq' | 'Mdq' | 'Ma' | 'Mw' | 'Md'
  // Immediates. Iz is 16 or 32 bits by operand size; Ibs is an imm8 sign-extended to the operand
  // size (the SDM writes it as Ib on opcodes 6A, 6B, 83).
  | 'Ib' | 'Iw' | 'Iz' | 'Ibs'
  // Relative branch displacement.
  | 'Jb' | 'Jz'
  // Direct memory offset with no ModRM (A0-A3), address-size wide.
  | 'Ob' | 'Ov'
  // Direct far pointer (EA, 9A): offset (16/32 by operand size) then selector.
  | 'Ap'
  // ModRM reg field naming a segment, control or debug register.
  | 'Sw' | 'Cd' | 'Dd'
  // Register in the low three bits of the opcode byte (SDM "Z").
  | 'Zb' | 'Zv' | 'Zd'
  // Fixed registers and constants written in the instruction's text.
  | 'AL' | 'CL' | 'DX' | 'AX' | 'eAX' | 'ES' | 'CS' | 'SS' | 'DS' | 'FS' | 'GS' | '1';

/** One EFLAGS bit by its SDM letter. Only the arithmetic flags are tracked per row. */
export const FLAG_BITS = {
  C: 1 << 0, // CF
  P: 1 << 2, // PF
  A: 1 << 4, // AF
  Z: 1 << 6, // ZF
  S: 1 << 7, // SF
  T: 1 << 8, // TF
  I: 1 << 9, // IF
  D: 1 << 10, // DF
  O: 1 << 11, // OF
} as const;
export type FlagLetter = keyof typeof FLAG_BITS;

/**
 * The VMX control that makes an instruction exit in non-root mode, or 'always' for the
 * unconditional exits (SDM Vol. 3C, 26.1.2). Names follow the SDM's control names.
 */
export type VmxExitControl =
  | 'always'
  | 'HLT_EXITING'
  | 'INVLPG_EXITING'
  | 'RDTSC_EXITING'
  | 'CR3_LOAD_EXITING'
  | 'CR3_STORE_EXITING'
  | 'CR_ACCESS' // decided by CR0/CR4 guest/host masks and CR3 controls
  | 'MOV_DR_EXITING'
  | 'IO_EXITING' // unconditional I/O exiting or the I/O bitmaps
  | 'MSR_EXITING' // the MSR bitmaps (or always, without them)
  | 'DESCRIPTOR_TABLE_EXITING'
  | 'RDTSCP_EXITING'
  | 'WBINVD_EXITING'
  | 'PAUSE_EXITING';

/** Exit-reason names of the instructions that can exit (numbers live in emulator/vmx). */
export type InstructionExitReason =
  | 'TASK_SWITCH' | 'CPUID' | 'GETSEC' | 'HLT' | 'INVD' | 'INVLPG' | 'RDPMC' | 'RDTSC'
  | 'VMCALL' | 'VMCLEAR' | 'VMLAUNCH' | 'VMPTRLD' | 'VMPTRST' | 'VMREAD' | 'VMRESUME'
  | 'VMWRITE' | 'VMXOFF' | 'VMXON' | 'CR_ACCESS' | 'DR_ACCESS' | 'IO_INSTRUCTION' | 'RDMSR'
  | 'WRMSR' | 'PAUSE' | 'GDTR_IDTR_ACCESS' | 'LDTR_TR_ACCESS' | 'INVEPT' | 'RDTSCP'
  | 'INVVPID' | 'WBINVD';

/** Where the ModRM byte comes from in an encoding. */
export type ModrmSpec =
  | { kind: 'none' }
  /** `/r`: reg field is an operand. */
  | { kind: 'r' }
  /** `/digit`: reg field is an opcode extension. */
  | { kind: 'digit'; digit: number }
  /** A whole fixed ModRM byte (e.g. 0F 01 C1 VMCALL). */
  | { kind: 'fixed'; byte: number };

/** One parsed row of the table. Frozen at load; its arrays are readonly by type only (see parseRow). */
export interface InsnForm {
  /** Index in the table; stable within one build, used by the CPU's dispatch arrays. */
  readonly id: number;
  /** Upper-case assembler mnemonic as NASM spells it (MOVSD, JNZ, PUSHAD). */
  readonly mnemonic: string;
  /** Semantic operation the CPU executes (MOVS for MOVSB/W/D, Jcc for all Jcc). */
  readonly op: string;
  /** Condition code 0-15 for Jcc/SETcc/CMOVcc rows, else -1. */
  readonly cc: number;
  /** Operands in Intel (destination first) order as written in assembly. */
  readonly operands: readonly OperandKind[];
  /** Mandatory prefix byte (F3 for PAUSE and VMXON, 66 for VMCLEAR/INVEPT), or 0. */
  readonly prefix: number;
  /** Opcode bytes without prefixes, ModRM and immediates (e.g. [0x0F, 0xB6]). */
  readonly opcode: readonly number[];
  /** True when the last opcode byte carries a register in bits 2:0 (`+r`). */
  readonly plusReg: boolean;
  readonly modrm: ModrmSpec;
  /** Operand size the form requires: 16 or 32 (NASM's o16/o32), or 0 when any size applies. */
  readonly osize: 0 | 16 | 32;
  /** Address size the form requires (JCXZ vs JECXZ), or 0. */
  readonly asize: 0 | 16 | 32;
  /** Whether a LOCK prefix is allowed (and then only with a memory destination). */
  readonly lock: boolean;
  /** Whether REP/REPE/REPNE apply (string instructions). 'rep' ignores ZF, 'repe' tests it. */
  readonly rep: 'none' | 'rep' | 'repe';
  /** EFLAGS bits read, written, and left undefined (SDM's "flags affected"). */
  readonly flagsRead: number;
  readonly flagsWritten: number;
  readonly flagsUndefined: number;
  /** Needs CPL 0 (else #GP(0)). */
  readonly cpl0: boolean;
  /** IOPL-sensitive (CLI, STI, IN, OUT, INS, OUTS): CPL > IOPL faults or consults the I/O bitmap. */
  readonly iopl: boolean;
  /** Undefined (#UD) in real-address and virtual-8086 mode (LAR, LSL, ARPL, LLDT, ...). */
  readonly protectedOnly: boolean;
  /** Whether and when this instruction causes a VM exit in VMX non-root operation. */
  readonly vmexit: { readonly reason: InstructionExitReason; readonly when: VmxExitControl } | null;
  /** Only the assembler uses this row (e.g. `mov ds, eax`); the decoder never yields it. */
  readonly asmOnly: boolean;
  /**
   * Hardware decodes it but NASM never emits it (e.g. 82 /0, the 8-bit ALU alias, or SAL /6): the
   * decoder and CPU honour it, the assembler never picks it.
   */
  readonly decodeOnly: boolean;
  /** The row as written in the table, for messages and documentation. */
  readonly source: string;
}

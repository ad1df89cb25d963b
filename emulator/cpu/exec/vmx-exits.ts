/**
 * Instruction VM exits in VMX non-root operation (Intel SDM Vol. 3C 26.1 and 26.1.3): for each
 * table row that names an exit (`exit:REASON/CONTROL`), the check that decides whether executing
 * it exits, and the exit qualification and instruction information it reports.
 *
 * The wrapper runs after the row's mode and privilege checks (exec/index.ts), because #UD, faults
 * based on CPL and the TSS I/O-bitmap #GP have priority over instruction exits (SDM 26.1.1). The
 * VMX instructions themselves decide in exec/vmx-instructions.ts, where the SDM's pseudo-code puts
 * the non-root exit between the #UD checks and the CPL check.
 */
import type { DecodedInsn } from '../../isa/decoder.js';
import type { InsnForm } from '../../isa/types.js';
import { ExitReason, Proc, Proc2 } from '../../vmx/controls.js';
import type { Cpu } from '../cpu.js';
import { raise, Vector } from '../faults.js';
import { portAllowed } from './control.js';
import { effectiveAddress } from './operands.js';

type Executor = (c: Cpu, d: DecodedInsn) => void;
/** Performs the instruction's VM exit (Vmx.exitInstead) and returns true, or returns false. */
type ExitCheck = (c: Cpu, d: DecodedInsn) => boolean;

/**
 * Memory-operand part of the VM-exit instruction-information field (SDM table 28-9 / 28-13):
 * scaling, address size, segment, index and base registers with their invalid bits.
 */
export function memoryOperandInfo(d: DecodedInsn): number {
  let info = (d.scale & 3) | ((d.adsize === 32 ? 1 : 0) << 7) | ((d.segment & 7) << 15);
  info |= d.index >= 0 ? (d.index & 0xf) << 18 : 1 << 22;
  info |= d.base >= 0 ? (d.base & 0xf) << 23 : 1 << 27;
  return info;
}

/** Instruction information for an E operand: memory as above, or a register (bit 10, reg1 6:3). */
export function operandInfo(d: DecodedInsn): number {
  return d.hasMemory ? memoryOperandInfo(d) : (1 << 10) | ((d.rm & 0xf) << 3) | ((d.adsize === 32 ? 1 : 0) << 7);
}

function exitWhen(control: (c: Cpu) => boolean, reason: number): ExitCheck {
  return (c, d) => control(c) && c.vmx.exitInstead(reason, 0, d.length);
}
const proc = (bit: number) => (c: Cpu): boolean => (c.vmx.proc & bit) !== 0;
const proc2 = (bit: number) => (c: Cpu): boolean => (c.vmx.proc2 & bit) !== 0;

/** Port I/O: the TSS permission check first (it has priority), then the I/O bitmaps. */
function ioCheck(f: InsnForm): ExitCheck {
  const string = f.op === 'INS' || f.op === 'OUTS';
  const input = f.op === 'IN' || f.op === 'INS';
  const immediate = f.operands.includes('Ib');
  const byteSized = f.operands.includes('AL') || f.mnemonic.endsWith('B') || (string && f.opcode[f.opcode.length - 1]! % 2 === 0);
  return (c, d) => {
    const size = byteSized ? 1 : d.opsize === 16 ? 2 : 4;
    const port = immediate ? d.imm & 0xff : c.r16[4]!;
    portAllowed(c, port, size);
    if (!c.vmx.ioExits(port, size)) return false;
    const rep = string && d.repPrefix !== 0;
    const qualification = (size - 1) | (input ? 8 : 0) | (string ? 16 : 0) | (rep ? 32 : 0) | (immediate ? 64 : 0) | (port << 16);
    if (!string) return c.vmx.exitInstead(ExitReason.IO_INSTRUCTION, qualification, d.length);
    // String I/O also reports the address size, the segment and the guest-linear address.
    const seg = input ? 0 : d.segOverride >= 0 ? d.segOverride : 3;
    const e = c.vmx.exitRecord(ExitReason.IO_INSTRUCTION, qualification, d.length, ((d.adsize === 32 ? 1 : 0) << 7) | (seg << 15));
    const offset = input ? c.r[7]! : c.r[6]!;
    e.guestLinearAddress = (c.segBase[seg]! + (d.adsize === 32 ? offset : offset & 0xffff)) >>> 0;
    return c.vmx.exitInsteadWith(e);
  };
}

/**
 * Control-register accesses (SDM 26.1.3, "MOV to CR0/CR3/CR4", "CLTS", "LMSW"). Qualification:
 * CR number 3:0, access type 5:4 (0 to CR, 1 from CR, 2 CLTS, 3 LMSW), LMSW operand type 6,
 * general register 11:8, LMSW source data 31:16.
 */
function crCheck(f: InsnForm): ExitCheck | null {
  const vmx = (c: Cpu) => c.vmx;
  if (f.op === 'CLTS') {
    return (c, d) => {
      const v = vmx(c);
      return (v.cr0Mask & 8 && v.cr0Shadow & 8) !== 0 && v.exitInstead(ExitReason.CR_ACCESS, 2 << 4, d.length);
    };
  }
  if (f.op === 'LMSW') {
    return (c, d) => {
      const v = vmx(c);
      const msw = d.hasMemory ? c.read16(d.segment, effectiveAddress(c, d)) : c.r16[d.rm * 2]!;
      const m = v.cr0Mask, s = v.cr0Shadow;
      // PE can only be set by LMSW; bits 1-3 exit when they would change against the shadow.
      const exits = Boolean(m & 1 && !(s & 1) && msw & 1) || ((msw ^ s) & m & 0xe) !== 0;
      return exits && v.exitInstead(ExitReason.CR_ACCESS, 0 | (3 << 4) | ((d.hasMemory ? 1 : 0) << 6) | ((msw & 0xffff) << 16), d.length);
    };
  }
  if (f.op === 'SMSW') return null; // never exits; it reads the CR0 read shadow
  const [dst, src] = f.operands;
  if (dst === 'Cd') {
    return (c, d) => {
      const v = vmx(c), n = d.reg, value = c.r[d.rm]!;
      const q = n | (0 << 4) | (d.rm << 8);
      if (n === 0 || n === 4) {
        const m = n === 0 ? v.cr0Mask : v.cr4Mask, s = n === 0 ? v.cr0Shadow : v.cr4Shadow;
        return ((value ^ s) & m) !== 0 && v.exitInstead(ExitReason.CR_ACCESS, q, d.length);
      }
      return n === 3 && v.cr3LoadExits(value) && v.exitInstead(ExitReason.CR_ACCESS, q, d.length);
    };
  }
  if (src === 'Cd') {
    return (c, d) => d.reg === 3 && (c.vmx.proc & Proc.CR3_STORE_EXITING) !== 0 && c.vmx.exitInstead(ExitReason.CR_ACCESS, 3 | (1 << 4) | (d.rm << 8), d.length);
  }
  return null;
}

/** Builds the non-root exit check of one table row, or null when the row never exits. */
function exitCheck(f: InsnForm): ExitCheck | null {
  const x = f.vmexit;
  if (!x) return null;
  const R = ExitReason;
  switch (x.reason) {
    case 'CPUID': return exitWhen(() => true, R.CPUID);
    case 'GETSEC': return exitWhen(() => true, R.GETSEC);
    case 'INVD': return exitWhen(() => true, R.INVD);
    case 'HLT': return exitWhen(proc(Proc.HLT_EXITING), R.HLT);
    case 'RDPMC': return exitWhen(proc(Proc.RDPMC_EXITING), R.RDPMC);
    case 'RDTSC': return exitWhen(proc(Proc.RDTSC_EXITING), R.RDTSC);
    case 'RDTSCP': return (c, d) => {
      // RDTSCP is #UD in non-root operation unless "enable RDTSCP" is set (SDM 26.3).
      if (!(c.vmx.proc2 & Proc2.ENABLE_RDTSCP)) raise(Vector.UD);
      return (c.vmx.proc & Proc.RDTSC_EXITING) !== 0 && c.vmx.exitInstead(R.RDTSCP, 0, d.length);
    };
    case 'PAUSE': return exitWhen(proc(Proc.PAUSE_EXITING), R.PAUSE);
    case 'WBINVD': return exitWhen(proc2(Proc2.WBINVD_EXITING), R.WBINVD);
    case 'INVLPG': return (c, d) => (c.vmx.proc & Proc.INVLPG_EXITING) !== 0
      && c.vmx.exitInstead(R.INVLPG, (c.segBase[d.segment]! + effectiveAddress(c, d)) >>> 0, d.length);
    case 'RDMSR': case 'WRMSR': {
      const write = x.reason === 'WRMSR';
      return (c, d) => c.vmx.msrExits(c.r[1]!, write) && c.vmx.exitInstead(write ? R.WRMSR : R.RDMSR, 0, d.length);
    }
    case 'DR_ACCESS': {
      const fromDr = f.operands[1] === 'Dd';
      return (c, d) => (c.vmx.proc & Proc.MOV_DR_EXITING) !== 0 && c.vmx.exitInstead(R.DR_ACCESS, d.reg | ((fromDr ? 1 : 0) << 4) | (d.rm << 8), d.length);
    }
    case 'IO_INSTRUCTION': return ioCheck(f);
    case 'CR_ACCESS': return crCheck(f);
    case 'GDTR_IDTR_ACCESS': case 'LDTR_TR_ACCESS': {
      const identity = ({ SGDT: 0, SIDT: 1, LGDT: 2, LIDT: 3, SLDT: 0, STR: 1, LLDT: 2, LTR: 3 } as Record<string, number>)[f.op] ?? 0;
      const reason = x.reason === 'GDTR_IDTR_ACCESS' ? R.GDTR_IDTR_ACCESS : R.LDTR_TR_ACCESS;
      return (c, d) => {
        if (!(c.vmx.proc2 & Proc2.DESCRIPTOR_TABLE_EXITING)) return false;
        const info = operandInfo(d) | ((d.opsize === 32 ? 1 : 0) << 11) | (identity << 28);
        return c.vmx.exitInstead(reason, d.hasMemory ? d.disp >>> 0 : 0, d.length, info >>> 0);
      };
    }
    default:
      // VMCALL and the VMX instructions decide in vmx-instructions.ts; TASK_SWITCH in tasks.ts.
      return null;
  }
}

/** Wraps an executor with its non-root exit check (identity for rows that never exit). */
export function withVmExit(f: InsnForm, fn: Executor): Executor {
  const check = exitCheck(f);
  if (!check) return fn;
  return (c, d) => {
    if (c.vmx.nonRoot && check(c, d)) return; // exited instead of executing
    fn(c, d);
  };
}

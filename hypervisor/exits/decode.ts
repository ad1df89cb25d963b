/**
 * A VM exit as the hypervisor reasons about it: the processor's exit record (reason number,
 * qualification bit fields) decoded once into a typed discriminated union, so handlers switch on
 * `kind` exhaustively and never pick bits apart themselves.
 */
import { ExitReason as R, EXIT_REASON_NAMES } from '../../emulator/vmx/controls.js';
import type { VmExit } from '../../emulator/vmx/vmx.js';

export type GuestExit =
  | { kind: 'cpuid' }
  | { kind: 'io'; port: number; size: 1 | 2 | 4; input: boolean; string: boolean; rep: boolean }
  | { kind: 'cr'; cr: number; access: 'mov-to' | 'mov-from' | 'clts' | 'lmsw'; gpr: number; lmswSource: number }
  | { kind: 'msr'; write: boolean }
  | { kind: 'hlt' }
  | { kind: 'vmcall' }
  | { kind: 'ept-violation'; gpa: number; linear: number; access: 'read' | 'write' | 'fetch' }
  | { kind: 'ept-misconfig'; gpa: number }
  | { kind: 'exception'; vector: number; errorCode: number | null }
  | { kind: 'external-interrupt' }
  | { kind: 'interrupt-window' }
  | { kind: 'preemption-timer' }
  | { kind: 'triple-fault' }
  | { kind: 'task-switch'; selector: number }
  | { kind: 'vmx-instruction'; name: string }
  | { kind: 'cache-control'; name: string }
  | { kind: 'entry-failure'; reason: number; qualification: number }
  | { kind: 'unexpected'; reason: number };

const VMX_INSTRUCTIONS = new Set<number>([R.VMCLEAR, R.VMLAUNCH, R.VMPTRLD, R.VMPTRST, R.VMREAD, R.VMRESUME,
  R.VMWRITE, R.VMXOFF, R.VMXON, R.INVEPT, R.INVVPID]);

export function reasonName(reason: number): string {
  return EXIT_REASON_NAMES.get(reason) ?? `REASON_${reason}`;
}

/**
 * An I/O instruction's exit qualification (SDM table 28-5), field by field, for the fast path to
 * read without building a record: the size in bits 2:0, the direction (IN), string and REP bits,
 * the port in 31:16.
 */
export const ioSize = (q: number): 1 | 2 | 4 => ((q & 7) + 1) as 1 | 2 | 4;
export const ioPort = (q: number): number => q >>> 16;
export const IO_INPUT = 8, IO_STRING = 16, IO_REP = 32;

export function decodeIo(q: number): Extract<GuestExit, { kind: 'io' }> {
  return { kind: 'io', port: ioPort(q), size: ioSize(q), input: (q & IO_INPUT) !== 0, string: (q & IO_STRING) !== 0, rep: (q & IO_REP) !== 0 };
}

export function decodeExit(e: VmExit): GuestExit {
  const q = e.qualification >>> 0;
  if (e.entryFailure) return { kind: 'entry-failure', reason: e.reason, qualification: q };
  switch (e.reason) {
    case R.CPUID: return { kind: 'cpuid' };
    case R.IO_INSTRUCTION: return decodeIo(q);
    case R.CR_ACCESS:
      return { kind: 'cr', cr: q & 15, access: (['mov-to', 'mov-from', 'clts', 'lmsw'] as const)[(q >>> 4) & 3]!, gpr: (q >>> 8) & 15, lmswSource: q >>> 16 };
    case R.RDMSR: return { kind: 'msr', write: false };
    case R.WRMSR: return { kind: 'msr', write: true };
    case R.HLT: return { kind: 'hlt' };
    case R.VMCALL: return { kind: 'vmcall' };
    case R.EPT_VIOLATION:
      return { kind: 'ept-violation', gpa: e.guestPhysicalAddress >>> 0, linear: e.guestLinearAddress >>> 0, access: q & 2 ? 'write' : q & 4 ? 'fetch' : 'read' };
    case R.EPT_MISCONFIG: return { kind: 'ept-misconfig', gpa: e.guestPhysicalAddress >>> 0 };
    case R.EXCEPTION_NMI:
      return { kind: 'exception', vector: e.interruptionInfo & 0xff, errorCode: e.interruptionInfo & 0x800 ? e.interruptionErrorCode : null };
    case R.EXTERNAL_INTERRUPT: return { kind: 'external-interrupt' };
    case R.INTERRUPT_WINDOW: return { kind: 'interrupt-window' };
    case R.PREEMPTION_TIMER: return { kind: 'preemption-timer' };
    case R.TRIPLE_FAULT: return { kind: 'triple-fault' };
    case R.TASK_SWITCH: return { kind: 'task-switch', selector: q & 0xffff };
    case R.INVD: case R.WBINVD: return { kind: 'cache-control', name: reasonName(e.reason) };
    default:
      if (VMX_INSTRUCTIONS.has(e.reason) ) return { kind: 'vmx-instruction', name: reasonName(e.reason) };
      return { kind: 'unexpected', reason: e.reason };
  }
}

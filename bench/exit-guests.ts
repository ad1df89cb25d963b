/**
 * The VM-exit microbenchmark guests (guests/bench/exits/*.asm) and the exact number of
 * instructions each executes for an iteration count n, from the structure of guests/bench/exits/
 * exits.inc: 9 + 8 * digits(n) (GDT, IDT, stack, parsing n from the Multiboot command line), the
 * guest's setup, 2 (loop entry), n * perIteration, 2 (isa-debug-exit). Instructions the hypervisor
 * emulates (the exiting CPUID, IN, ...) count as executed, as they would on hardware.
 */
import { ExitReason } from '../emulator/vmx/controls.js';

export interface ExitGuest {
  /** The reason's name on the command line (`--reason`). */
  name: string;
  source: string;
  description: string;
  /** The VM-exit reason each iteration causes (null: none, the baseline). */
  exitReason: number | null;
  setup: number;
  /** Instructions per iteration; null when the count is read from the emulator's counter. */
  perIteration: number | null;
  /** Of those, the loop's own work that is not part of the event (subtracted at ALU speed). */
  loopInstructions: number;
}

export const EXIT_GUESTS: readonly ExitGuest[] = [
  { name: 'cpuid', exitReason: ExitReason.CPUID, setup: 0, perIteration: 4, loopInstructions: 3, description: 'CPUID leaf 0 (the null exit)' },
  { name: 'vmcall', exitReason: ExitReason.VMCALL, setup: 0, perIteration: 4, loopInstructions: 3, description: 'null hypercall (VMCALL, -ENOSYS)' },
  { name: 'io-in', exitReason: ExitReason.IO_INSTRUCTION, setup: 1, perIteration: 3, loopInstructions: 2, description: 'IN from the UART line status port 0x3FD' },
  { name: 'io-out', exitReason: ExitReason.IO_INSTRUCTION, setup: 1, perIteration: 3, loopInstructions: 2, description: 'OUT to the UART scratch port 0x3FF' },
  { name: 'io-portb', exitReason: ExitReason.IO_INSTRUCTION, setup: 0, perIteration: 3, loopInstructions: 2, description: 'IN from port B 0x61 (follows the clock)' },
  { name: 'io-eoi', exitReason: ExitReason.IO_INSTRUCTION, setup: 1, perIteration: 3, loopInstructions: 2, description: 'OUT of an EOI to the PIC 0x20 (never inline)' },
  { name: 'cr', exitReason: ExitReason.CR_ACCESS, setup: 1, perIteration: 4, loopInstructions: 3, description: 'MOV to CR0 toggling CR0.NE (host-owned)' },
  { name: 'msr', exitReason: ExitReason.RDMSR, setup: 0, perIteration: 4, loopInstructions: 3, description: 'RDMSR IA32_FEATURE_CONTROL (0x3A)' },
  { name: 'wrmsr', exitReason: ExitReason.WRMSR, setup: 0, perIteration: 6, loopInstructions: 5, description: 'WRMSR of the TSC (moves the TSC offset)' },
  { name: 'hlt', exitReason: ExitReason.HLT, setup: 22, perIteration: 4, loopInstructions: 2, description: 'HLT woken by PIT IRQ0 (idle time skipped)' },
  { name: 'mmio', exitReason: ExitReason.EPT_VIOLATION, setup: 0, perIteration: 3, loopInstructions: 2, description: 'MMIO UART scratch write (EPT violation, decoded)' },
  { name: 'pf', exitReason: null, setup: 15, perIteration: 8, loopInstructions: 4, description: 'guest #PF handled in the guest (no exit: baseline)' },
  { name: 'exception', exitReason: ExitReason.VMXOFF, setup: 5, perIteration: 4, loopInstructions: 2, description: 'VMXOFF exit, #UD reflected into the guest' },
  { name: 'irq', exitReason: ExitReason.PREEMPTION_TIMER, setup: 22, perIteration: null, loopInstructions: 0, description: 'PIT IRQ0 every 4 ticks while spinning (timer exit + injection)' },
].map((g) => ({ ...g, source: `guests/bench/exits/${g.name}.asm` }));

/** The command line that runs n iterations. */
export const exitGuestCmdline = (n: number): string => String(n);

/** Exact dynamic instruction count for n iterations (null for guests whose count is not modelled). */
export function exitGuestInstructions(g: ExitGuest, n: number): number | null {
  if (g.perIteration === null) return null;
  return 9 + 8 * exitGuestCmdline(n).length + g.setup + 2 + n * g.perIteration + 2;
}

/** Instructions of the event itself per iteration (the handler's in the guest included). */
export function eventInstructions(g: ExitGuest): number {
  return g.name === 'irq' ? 2 : (g.perIteration ?? 0) - g.loopInstructions;
}

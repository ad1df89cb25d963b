/**
 * What every exit handler receives and returns. A handler emulates one kind of exit against the
 * VM's devices and memory and tells the run loop what to do next; counting, timing and tracing
 * are done around the handlers (vcpu run loop), never inside them.
 */
import type { Cpu } from '../../emulator/cpu/cpu.js';
import type { VmExit } from '../../emulator/vmx/vmx.js';
import type { Vcpu } from '../vcpu.js';
import type { Vm } from '../vm.js';
import type { GuestExit } from './decode.js';

export interface ExitContext {
  /** The processor, for the few handlers that emulate an instruction in the guest's context. */
  cpu: Cpu;
  vm: Vm;
  vcpu: Vcpu;
  /** The raw exit record (qualification, lengths, addresses). */
  raw: VmExit;
  /** Host virtual time in ns, and the host TSC (for TSC writes). */
  hostTsc: () => bigint;
}

/**
 * resume: enter the guest again. yield: this slice is over (the scheduler picks next).
 * block: the vCPU waits for an interrupt or event. stop: the VM has stopped (vm.stop says why).
 */
export type ExitAction = 'resume' | 'yield' | 'block' | 'stop';

export type ExitHandler<K extends GuestExit['kind']> = (ctx: ExitContext, exit: Extract<GuestExit, { kind: K }>) => ExitAction;

/** Sets the low `size` bytes of a 32-bit register value. */
export function mergeRegister(old: number, value: number, size: 1 | 2 | 4): number {
  if (size === 4) return value | 0;
  const mask = size === 2 ? 0xffff : 0xff;
  return (old & ~mask) | (value & mask);
}

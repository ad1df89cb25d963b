/**
 * The exit dispatcher: one handler per kind of exit, chosen by an exhaustive switch over the
 * decoded exit (decode.ts). Adding a kind without a handler is a type error.
 */
import { handleHypercall } from '../hypercalls.js';
import type { ExitAction, ExitContext } from './context.js';
import { handleCr } from './control-registers.js';
import { handleCpuid } from './cpuid.js';
import { type GuestExit, reasonName } from './decode.js';
import { handleIo } from './io.js';
import { handleMmio } from './mmio.js';
import { handleMsr } from './msr.js';
import { handleTaskSwitch } from './task-switch.js';

function crash(ctx: ExitContext, reason: string): ExitAction {
  ctx.vm.halt({ kind: 'crash', reason });
  return 'stop';
}

export function handleExit(ctx: ExitContext, exit: GuestExit): ExitAction {
  const { vm, vcpu } = ctx;
  switch (exit.kind) {
    case 'cpuid': return handleCpuid(ctx);
    case 'io': return handleIo(ctx, exit);
    case 'cr': return handleCr(ctx, exit);
    case 'msr': return handleMsr(ctx, exit);
    case 'vmcall': return handleHypercall(ctx);
    case 'hlt':
      vcpu.skipInstruction();
      vcpu.halted = true;
      return 'block';
    case 'ept-violation': {
      // Guest-physical memory that is not RAM: a device on the VM's MMIO bus, or nothing.
      const device = vm.mmio.find(exit.gpa);
      if (device !== undefined) return handleMmio(ctx, exit, device);
      return crash(ctx, `${exit.access} of guest-physical 0x${exit.gpa.toString(16)} (linear 0x${exit.linear.toString(16)}), outside the VM's memory`);
    }
    case 'ept-misconfig':
      return crash(ctx, `EPT misconfiguration at guest-physical 0x${exit.gpa.toString(16)} (a hypervisor bug)`);
    case 'exception':
      return crash(ctx, `unexpected exception exit, vector ${exit.vector}`);
    case 'external-interrupt':
    case 'interrupt-window':
      return 'resume';
    case 'preemption-timer':
      return 'yield';
    case 'triple-fault':
      vm.halt({ kind: 'triple-fault' });
      return 'stop';
    case 'task-switch':
      return handleTaskSwitch(ctx, exit);
    case 'vmx-instruction':
      // No nested virtualization: CPUID hides VMX, and its instructions are #UD, as without VMX.
      vcpu.injectException(6);
      return 'resume';
    case 'cache-control':
      vcpu.skipInstruction();
      return 'resume';
    case 'entry-failure':
      return crash(ctx, `VM entry failed: ${reasonName(exit.reason)}, qualification ${exit.qualification}`);
    case 'unexpected':
      return crash(ctx, `unhandled VM exit ${reasonName(exit.reason)}`);
  }
}

/**
 * Hardware task switches always exit in VMX non-root operation (SDM 26.4.2); the hypervisor
 * completes them, as KVM does with its instruction emulator. Here the emulator's own task-switch
 * code runs against the guest's state (Vmx.emulateInGuestContext), so the guest gets exactly the
 * task switch the bare machine performs: the TSS saved and loaded through the guest's paging and
 * EPT, busy bits, back link, NT, CR0.TS, and any fault delivered in the right task.
 */
import { taskSwitchThroughGate, type TaskSwitchSource } from '../../emulator/cpu/tasks.js';
import { VmcsField as F } from '../../emulator/vmx/fields.js';
import type { ExitAction, ExitContext } from './context.js';
import type { GuestExit } from './decode.js';

const SOURCES: readonly TaskSwitchSource[] = ['call', 'iret', 'jmp', 'interrupt'];

export function handleTaskSwitch(ctx: ExitContext, ts: Extract<GuestExit, { kind: 'task-switch' }>): ExitAction {
  const { cpu, vcpu, vm, raw } = ctx;
  const source = SOURCES[raw.qualification >>> 30]!;
  const rip = vcpu.rip, next = (rip + raw.instructionLength) >>> 0;
  let returnEip = next, errorCode = -1;
  // CALL, JMP, IRET and INT n are instructions; a fault or interrupt delivered through a task
  // gate is not (it costs no instruction on the bare machine either).
  let instruction = source !== 'interrupt';
  const vectoring = raw.idtVectoringInfo >>> 0;
  if (source === 'interrupt' && vectoring >>> 31) {
    const type = (vectoring >>> 8) & 7;
    instruction = type === 4 || type === 5 || type === 6;
    // A fault or an external interrupt returns to the interrupted instruction; INT n after it.
    returnEip = type === 4 || type === 5 || type === 6 ? next : rip;
    if (vectoring & 0x800) errorCode = raw.idtVectoringErrorCode;
    // The task switch completes the delivery: nothing to re-inject.
    vcpu.vmcs.write(F.IDT_VECTORING_INFO_FIELD, 0);
  }
  vcpu.load(cpu);
  let fault: { vector: number; errorCode: number } | null;
  try {
    fault = cpu.vmx.emulateInGuestContext(() => taskSwitchThroughGate(cpu, ts.selector, source, returnEip, errorCode));
  } catch (e) {
    vm.halt({ kind: 'crash', reason: `task switch to TSS 0x${ts.selector.toString(16)}: ${(e as Error).message}` });
    return 'stop';
  }
  vcpu.save(cpu);
  if (instruction) vcpu.emulated++;
  if (fault) vcpu.injectException(fault.vector, [8, 10, 11, 12, 13, 14, 17].includes(fault.vector) ? fault.errorCode : undefined);
  return 'resume';
}

/**
 * The paravirtual interface (hypervisor/abi.ts): VMCALL with the number in EAX, arguments in EBX,
 * ECX, EDX, ESI, the result in EAX. Every pointer is a guest-physical address checked against the
 * VM's own memory; a bad one gets -EFAULT and nothing is touched. An unknown number is -ENOSYS.
 * Only the guest's kernel may call: VMCALL from CPL > 0 gets -EPERM (as KVM returns -KVM_EPERM),
 * so a guest's user programs cannot write to its console or shut it down behind its kernel.
 * No hypercall can stop the hypervisor or reach another VM.
 */
import { Hypercall as H, HcError, CONSOLE_MAX, MULTICALL_MAX, MULTICALL_RECORD } from './abi.js';
import type { ExitAction, ExitContext } from './exits/context.js';

interface CallResult {
  value: number;
  /** EDX for 64-bit results. */
  high?: number;
  action: ExitAction;
}

const done = (value: number, action: ExitAction = 'resume'): CallResult => ({ value, action });

/** Does one hypercall; MULTICALL records call this for each entry (no nesting). */
function call(ctx: ExitContext, nr: number, a0: number, a1: number, a2: number, nested: boolean): CallResult {
  const { vm, vcpu } = ctx;
  const u = (v: number) => v >>> 0;
  const n = u(nr);
  // A guest that uses events or the timer is a PV guest: from now on it receives event upcalls.
  if (n === H.SET_TIMER || n === H.BLOCK || n === H.ACK_EVENT || n === H.SEND_EVENT || n === H.EVENT_VECTOR) vm.pvEventsEnabled = true;
  switch (n) {
    case H.CONSOLE_WRITE: {
      const gpa = u(a0), len = u(a1);
      if (len > CONSOLE_MAX) return done(HcError.EINVAL);
      if (!vm.ram.contains(gpa, len)) return done(HcError.EFAULT);
      vm.writeConsole(vm.ram.bytes(gpa, len));
      return done(len);
    }
    case H.CONSOLE_READ: {
      const gpa = u(a0), max = u(a1);
      if (max > CONSOLE_MAX) return done(HcError.EINVAL);
      if (!vm.ram.contains(gpa, max)) return done(HcError.EFAULT);
      const n = Math.min(max, vm.pvInput.length);
      vm.ram.load(gpa, Uint8Array.from(vm.pvInput.splice(0, n)));
      return done(n);
    }
    case H.SET_TIMER: {
      vm.setPvTimer(u(a0) + u(a1) * 2 ** 32, u(a2));
      return done(0);
    }
    case H.CANCEL_TIMER:
      vm.setPvTimer(Infinity, 0);
      return done(0);
    case H.YIELD:
      return done(0, 'yield');
    case H.BLOCK:
      if (nested) return done(HcError.EINVAL);
      vm.sync();
      if (vm.pvEvents !== 0) return done(vm.pvEvents);
      vcpu.halted = true;
      return done(0, 'block');
    case H.SHUTDOWN:
      vm.halt({ kind: 'exit', status: ((u(a0) << 1) | 1) & 0xff });
      return done(0, 'stop');
    case H.GET_TIME: {
      const ns = Math.max(0, Math.floor(vm.now()));
      return { value: ns % 2 ** 32, high: Math.floor(ns / 2 ** 32), action: 'resume' };
    }
    case H.ACK_EVENT:
      vm.pvEvents &= ~u(a0);
      vm.pvEventInService = false;
      return done(vm.pvEvents);
    case H.SEND_EVENT:
      if (u(a0) > 31) return done(HcError.EINVAL);
      vm.raiseEvent(u(a0));
      return done(0);
    case H.EVENT_VECTOR:
      if (u(a0) < 32 || u(a0) > 255) return done(HcError.EINVAL);
      vm.pvEventVector = u(a0);
      return done(0);
    case H.MULTICALL: {
      if (nested) return done(HcError.EINVAL);
      const gpa = u(a0), count = u(a1);
      if (count > MULTICALL_MAX) return done(HcError.EINVAL);
      if (!vm.ram.contains(gpa, count * MULTICALL_RECORD)) return done(HcError.EFAULT);
      let completed = 0;
      let action: ExitAction = 'resume';
      for (let i = 0; i < count; i++) {
        const at = gpa + i * MULTICALL_RECORD;
        const r = call(ctx, vm.ram.read32(at), vm.ram.read32(at + 4), vm.ram.read32(at + 8), vm.ram.read32(at + 12), true);
        vm.ram.write32(at + 20, r.value);
        completed++;
        if (r.action !== 'resume') { action = r.action; break; }
      }
      return done(completed, action);
    }
    default:
      return done(HcError.ENOSYS);
  }
}

/** A VMCALL on a register file (EAX..EDI) from a guest at privilege `cpl`. */
/**
 * Whether hypercall `nr` at privilege `cpl` cannot make an interrupt pending: it touches neither
 * the PV events nor the devices (the console, the time, cancelling the timer, a number that is
 * no hypercall, a call from outside ring 0). The others may raise or re-enable an event, sync
 * the VM, or do any of that in a MULTICALL batch.
 */
export function raisesNoInterrupt(nr: number, cpl: number): boolean {
  const n = nr >>> 0;
  return cpl !== 0 || n === H.CONSOLE_WRITE || n === H.CONSOLE_READ || n === H.CANCEL_TIMER || n === H.GET_TIME
    || !isHypercall(n);
}

/** Hypercall numbers, as flags by number (they are small). */
const HYPERCALL_NUMBERS = new Uint8Array(Math.max(...Object.values(H)) + 1);
for (const n of Object.values(H)) HYPERCALL_NUMBERS[n] = 1;
const isHypercall = (n: number): boolean => n < HYPERCALL_NUMBERS.length && HYPERCALL_NUMBERS[n] === 1;

/**
 * Whether hypercall `nr` at privilege `cpl` can be completed inline (Hypervisor.inlineVmcall):
 * it always resumes the guest and touches no device, event, timer or clock: the console, a
 * number that is no hypercall (-ENOSYS), a call from outside ring 0 (-EPERM).
 */
export function inlineHypercall(nr: number, cpl: number): boolean {
  const n = nr >>> 0;
  return cpl !== 0 || n === H.CONSOLE_WRITE || n === H.CONSOLE_READ || !isHypercall(n);
}

export function hypercall(ctx: ExitContext, r: Int32Array, cpl: number): ExitAction {
  if (cpl !== 0) {
    r[0] = HcError.EPERM;
    return 'resume';
  }
  if (!isHypercall(r[0]! >>> 0)) { // the null hypercall of exit benchmarks, without building a result
    r[0] = HcError.ENOSYS;
    return 'resume';
  }
  const result = call(ctx, r[0]!, r[3]!, r[1]!, r[2]!, false);
  r[0] = result.value | 0;
  if (result.high !== undefined) r[2] = result.high | 0;
  return result.action;
}

export function handleHypercall(ctx: ExitContext): ExitAction {
  ctx.vcpu.skipInstruction();
  return hypercall(ctx, ctx.vcpu.regs, ctx.vcpu.cpl);
}

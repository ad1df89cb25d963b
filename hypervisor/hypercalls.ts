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
  /** EDX for 64-bit results (null: EDX is left as it was). */
  high: number | null;
  action: ExitAction;
}

/**
 * The one result every call fills in and returns: a VMCALL allocates nothing (exit loops make
 * millions). Its reader takes what it needs before the next call.
 */
const result: CallResult = { value: 0, high: null, action: 'resume' };

function done(value: number, action: ExitAction = 'resume', high: number | null = null): CallResult {
  result.value = value;
  result.high = high;
  result.action = action;
  return result;
}

/** An argument register as the unsigned value the ABI means. */
const u = (v: number): number => v >>> 0;

/** One hypercall's handler: its arguments (EBX, ECX, EDX), and whether it is inside a MULTICALL. */
type Handler = (ctx: ExitContext, a0: number, a1: number, a2: number, nested: boolean) => CallResult;

/** A guest that uses events or the timer is a PV guest: from now on it receives event upcalls. */
function eventsUsed(ctx: ExitContext): void {
  ctx.vm.pvEventsEnabled = true;
}

/** The handlers by hypercall number; a number without one is -ENOSYS. */
const HANDLERS: Handler[] = [];
HANDLERS[H.CONSOLE_WRITE] = ({ vm }, a0, a1) => {
  const gpa = u(a0), len = u(a1);
  if (len > CONSOLE_MAX) return done(HcError.EINVAL);
  if (!vm.ram.contains(gpa, len)) return done(HcError.EFAULT);
  vm.writeConsole(vm.ram.bytes(gpa, len));
  return done(len);
};
HANDLERS[H.CONSOLE_READ] = ({ vm }, a0, a1) => {
  const gpa = u(a0), max = u(a1);
  if (max > CONSOLE_MAX) return done(HcError.EINVAL);
  if (!vm.ram.contains(gpa, max)) return done(HcError.EFAULT);
  const n = Math.min(max, vm.pvInput.length);
  vm.ram.load(gpa, Uint8Array.from(vm.pvInput.splice(0, n)));
  return done(n);
};
HANDLERS[H.SET_TIMER] = (ctx, a0, a1, a2) => {
  eventsUsed(ctx);
  ctx.vm.setPvTimer(u(a0) + u(a1) * 2 ** 32, u(a2));
  return done(0);
};
HANDLERS[H.CANCEL_TIMER] = ({ vm }) => {
  vm.setPvTimer(Infinity, 0);
  return done(0);
};
HANDLERS[H.YIELD] = () => done(0, 'yield');
HANDLERS[H.BLOCK] = (ctx, _a0, _a1, _a2, nested) => {
  eventsUsed(ctx);
  if (nested) return done(HcError.EINVAL);
  const { vm, vcpu } = ctx;
  vm.sync();
  if (vm.pvEvents !== 0) return done(vm.pvEvents);
  vcpu.halted = true;
  return done(0, 'block');
};
HANDLERS[H.SHUTDOWN] = ({ vm }, a0) => {
  vm.halt({ kind: 'exit', status: ((u(a0) << 1) | 1) & 0xff });
  return done(0, 'stop');
};
HANDLERS[H.GET_TIME] = ({ vm }) => {
  const ns = Math.max(0, Math.floor(vm.now()));
  return done(ns % 2 ** 32, 'resume', Math.floor(ns / 2 ** 32));
};
HANDLERS[H.ACK_EVENT] = (ctx, a0) => {
  eventsUsed(ctx);
  const { vm } = ctx;
  vm.pvEvents &= ~u(a0);
  vm.pvEventInService = false;
  return done(vm.pvEvents);
};
HANDLERS[H.SEND_EVENT] = (ctx, a0) => {
  eventsUsed(ctx);
  if (u(a0) > 31) return done(HcError.EINVAL);
  ctx.vm.raiseEvent(u(a0));
  return done(0);
};
HANDLERS[H.EVENT_VECTOR] = (ctx, a0) => {
  eventsUsed(ctx);
  if (u(a0) < 32 || u(a0) > 255) return done(HcError.EINVAL);
  ctx.vm.pvEventVector = u(a0);
  return done(0);
};
HANDLERS[H.MULTICALL] = (ctx, a0, a1, _a2, nested) => {
  if (nested) return done(HcError.EINVAL);
  const { vm } = ctx;
  const gpa = u(a0), count = u(a1);
  if (count > MULTICALL_MAX) return done(HcError.EINVAL);
  if (!vm.ram.contains(gpa, count * MULTICALL_RECORD)) return done(HcError.EFAULT);
  let completed = 0;
  let action: ExitAction = 'resume';
  for (let i = 0; i < count; i++) {
    const at = gpa + i * MULTICALL_RECORD;
    const r = nestedCall(ctx, vm.ram.read32(at), vm.ram.read32(at + 4), vm.ram.read32(at + 8), vm.ram.read32(at + 12));
    vm.ram.write32(at + 20, r.value);
    completed++;
    if (r.action !== 'resume') { action = r.action; break; }
  }
  return done(completed, action);
};

/** Is `n` (unsigned) a hypercall number? */
function isHypercall(n: number): boolean {
  return n < HANDLERS.length && HANDLERS[n] !== undefined;
}

/** Does one hypercall of a MULTICALL batch (no nesting). */
function nestedCall(ctx: ExitContext, nr: number, a0: number, a1: number, a2: number): CallResult {
  const n = u(nr);
  return isHypercall(n) ? HANDLERS[n]!(ctx, a0, a1, a2, true) : done(HcError.ENOSYS);
}

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

/**
 * Whether hypercall `nr` at privilege `cpl` can be completed inline (Hypervisor.inlineVmcall):
 * of those that raise no interrupt, the ones that also leave the timer and the clock alone (the
 * hypervisor's clock lags while inline exits are not yet counted): the console, a number that is
 * no hypercall (-ENOSYS), a call from outside ring 0 (-EPERM).
 */
export function inlineHypercall(nr: number, cpl: number): boolean {
  const n = nr >>> 0;
  return raisesNoInterrupt(n, cpl) && (cpl !== 0 || (n !== H.GET_TIME && n !== H.CANCEL_TIMER));
}

/** A VMCALL on a register file (EAX..EDI) from a guest at privilege `cpl`. */
export function hypercall(ctx: ExitContext, r: Int32Array, cpl: number): ExitAction {
  if (cpl !== 0) {
    r[0] = HcError.EPERM;
    return 'resume';
  }
  const n = u(r[0]!);
  if (!isHypercall(n)) { // nothing to call: no result to fill in
    r[0] = HcError.ENOSYS;
    return 'resume';
  }
  const out = HANDLERS[n]!(ctx, r[3]!, r[1]!, r[2]!, false);
  r[0] = out.value | 0;
  if (out.high !== null) r[2] = out.high | 0;
  return out.action;
}

export function handleHypercall(ctx: ExitContext): ExitAction {
  // The VMCALL is counted once it is done, as every handler counts its instruction (skipInstruction).
  const action = hypercall(ctx, ctx.vcpu.regs, ctx.vcpu.cpl);
  ctx.vcpu.skipInstruction();
  return action;
}

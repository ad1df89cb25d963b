/**
 * Port I/O: every port exits (the I/O bitmaps are all ones) and goes to the VM's own PC devices.
 * IN/OUT move AL/AX/EAX; INS/OUTS (with REP) are emulated completely: each element's linear
 * address goes through the guest's paging (both pages of an element straddling a boundary), a
 * page fault is injected into the guest exactly where the real instruction would take it, and
 * ECX/ESI/EDI advance as the instruction would advance them. A long REP is done in batches,
 * re-executing the instruction for the rest.
 */
import { VmcsField as F } from '../../emulator/vmx/fields.js';
import type { ExitAction, ExitContext } from './context.js';
import { mergeRegister } from './context.js';
import type { GuestExit } from './decode.js';
import type { Vcpu } from '../vcpu.js';
import type { Vm } from '../vm.js';

/** Elements emulated per exit before the guest re-executes the REP for the rest. */
const STRING_BATCH = 4096;

/**
 * The guest-physical address of each byte of one element at `linear`, through the guest's paging:
 * an element straddling a page boundary takes its second part from the next linear page, wherever
 * that leads. Both pages are checked, in address order, before any byte moves (as the processor's
 * own INS/OUTS do): a fault on the second reports that page's first byte in CR2.
 */
function translateElement(vcpu: Vcpu, linear: number, size: number, write: boolean): number[] | { pageFault: number; cr2: number } {
  const first = vcpu.translate(linear, write);
  if ('pageFault' in first) return { pageFault: first.pageFault, cr2: linear };
  const inFirst = Math.min(size, 0x1000 - (linear & 0xfff));
  const bytes: number[] = [];
  for (let i = 0; i < inFirst; i++) bytes.push(first.gpa + i);
  if (inFirst < size) {
    const next = (linear + inFirst) >>> 0;
    const second = vcpu.translate(next, write);
    if ('pageFault' in second) return { pageFault: second.pageFault, cr2: next };
    for (let i = 0; i < size - inFirst; i++) bytes.push(second.gpa + i);
  }
  return bytes;
}

/** IN or OUT (not string I/O) on a register file: AL/AX/EAX to or from the VM's port. */
export function portIo(vm: Vm, r: Int32Array, port: number, size: 1 | 2 | 4, input: boolean): ExitAction {
  // While no event is due (Vm.quietUntil), only the PIC needs the others synced before an access.
  const now = vm.now();
  if (!(now < vm.quietUntil) || vm.devices.accessNeedsSync(port, size)) vm.sync(now);
  const ports = vm.devices.ports;
  if (input) r[0] = mergeRegister(r[0]!, ports.portRead(port, size), size);
  else ports.portWrite(port, size, r[0]! & (size === 4 ? -1 : (1 << (size * 8)) - 1));
  vm.quietUntil = -Infinity; // the access may have brought a device's next event forward
  return vm.stop ? 'stop' : 'resume';
}

export function handleIo(ctx: ExitContext, io: Extract<GuestExit, { kind: 'io' }>): ExitAction {
  const { vm, vcpu } = ctx;
  const r = vcpu.regs;
  if (!io.string) {
    const action = portIo(vm, r, io.port, io.size, io.input);
    vcpu.skipInstruction();
    return action;
  }
  vm.sync();
  const ports = vm.devices.ports;
  const info = vcpu.vmcs.read(F.VMX_INSTRUCTION_INFO);
  const wide = ((info >>> 7) & 7) === 1; // 32-bit addresses
  const seg = io.input ? 0 : (info >>> 15) & 7; // INS always writes ES:EDI
  const indexReg = io.input ? 7 : 6;
  const step = (vcpu.rflags & 0x400 ? -1 : 1) * io.size;
  const addrMask = wide ? 0xffffffff : 0xffff;
  let count = io.rep ? (wide ? r[1]! >>> 0 : r[1]! & 0xffff) : 1;
  let done = 0;
  while (count > 0 && done < STRING_BATCH) {
    const offset = r[indexReg]! & addrMask;
    const linear = (vcpu.segmentBase(seg) + offset) >>> 0;
    const bytes = translateElement(vcpu, linear, io.size, io.input);
    if ('pageFault' in bytes) {
      vcpu.cr2 = bytes.cr2;
      vcpu.injectException(14, bytes.pageFault);
      return 'resume';
    }
    const outside = bytes.find((gpa) => !vm.ram.contains(gpa, 1));
    if (outside !== undefined) {
      vm.halt({ kind: 'crash', reason: `string I/O on port 0x${io.port.toString(16)} touched guest-physical 0x${outside.toString(16)}, outside guest memory` });
      return 'stop';
    }
    if (io.input) {
      const v = ports.portRead(io.port, io.size);
      bytes.forEach((gpa, i) => vm.ram.write8(gpa, v >>> (8 * i)));
    } else {
      let v = 0;
      bytes.forEach((gpa, i) => { v += vm.ram.read8(gpa) * 2 ** (8 * i); });
      ports.portWrite(io.port, io.size, v);
    }
    const next = (offset + step) & addrMask;
    r[indexReg] = wide ? next | 0 : (r[indexReg]! & ~0xffff) | next;
    count--;
    done++;
    if (io.rep) r[1] = wide ? count | 0 : (r[1]! & ~0xffff) | count;
    if (vm.stop) return 'stop';
  }
  if (count === 0) vcpu.skipInstruction();
  return vm.stop ? 'stop' : 'resume';
}

/**
 * Port I/O: every port exits (the I/O bitmaps are all ones) and goes to the VM's own PC devices.
 * IN/OUT move AL/AX/EAX; INS/OUTS (with REP) are emulated completely: each element's linear
 * address goes through the guest's paging, a page fault is injected into the guest exactly where
 * the real instruction would take it, and ECX/ESI/EDI advance as the instruction would advance
 * them. A long REP is done in batches, re-executing the instruction for the rest.
 */
import { VmcsField as F } from '../../emulator/vmx/fields.js';
import type { ExitAction, ExitContext } from './context.js';
import { mergeRegister } from './context.js';
import type { GuestExit } from './decode.js';

/** Elements emulated per exit before the guest re-executes the REP for the rest. */
const STRING_BATCH = 4096;

export function handleIo(ctx: ExitContext, io: Extract<GuestExit, { kind: 'io' }>): ExitAction {
  const { vm, vcpu } = ctx;
  vm.sync();
  const ports = vm.devices.ports;
  const r = vcpu.regs;
  if (!io.string) {
    if (io.input) r[0] = mergeRegister(r[0]!, ports.portRead(io.port, io.size), io.size);
    else ports.portWrite(io.port, io.size, r[0]! & (io.size === 4 ? -1 : (1 << (io.size * 8)) - 1));
    vcpu.skipInstruction();
    return vm.stop ? 'stop' : 'resume';
  }
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
    const t = vcpu.translate(linear, io.input);
    if ('pageFault' in t) {
      vcpu.cr2 = linear;
      vcpu.injectException(14, t.pageFault);
      return 'resume';
    }
    if (!vm.ram.contains(t.gpa, io.size)) {
      vm.halt({ kind: 'crash', reason: `string I/O on port 0x${io.port.toString(16)} touched guest-physical 0x${t.gpa.toString(16)}, outside guest memory` });
      return 'stop';
    }
    if (io.input) {
      const v = ports.portRead(io.port, io.size);
      if (io.size === 1) vm.ram.write8(t.gpa, v); else if (io.size === 2) vm.ram.write16(t.gpa, v); else vm.ram.write32(t.gpa, v);
    } else {
      const v = io.size === 1 ? vm.ram.read8(t.gpa) : io.size === 2 ? vm.ram.read16(t.gpa) : vm.ram.read32(t.gpa);
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

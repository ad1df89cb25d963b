/**
 * MMIO through EPT violations. A device's page is left out of the EPT map, so the guest's access
 * exits with the guest-physical address; the hypervisor fetches the faulting instruction through
 * the guest's paging, decodes it with the emulator's own decoder, and completes it against the
 * device: the register or immediate it stores, or the register it loads (with MOVZX/MOVSX
 * extension), then steps past it. Anything but a plain load or store to MMIO is reported.
 */
import { decode, isDecodeFailure, type DecodedInsn } from '../../emulator/isa/decoder.js';
import type { AccessSize } from '../../emulator/devices/index.js';
import { VmcsField as F } from '../../emulator/vmx/fields.js';
import type { ExitAction, ExitContext } from './context.js';
import { mergeRegister } from './context.js';
import type { GuestExit } from './decode.js';

/** Reads register `n` of width `w` bits (8-bit: AL CL DL BL AH CH DH BH). */
function readReg(regs: Int32Array, n: number, w: 8 | 16 | 32): number {
  if (w === 32) return regs[n]! >>> 0;
  if (w === 16) return regs[n]! & 0xffff;
  return n < 4 ? regs[n]! & 0xff : (regs[n - 4]! >>> 8) & 0xff;
}

function writeReg(regs: Int32Array, n: number, w: 8 | 16 | 32, v: number): void {
  if (w === 32) regs[n] = v | 0;
  else if (w === 16) regs[n] = mergeRegister(regs[n]!, v, 2);
  else if (n < 4) regs[n] = mergeRegister(regs[n]!, v, 1);
  else regs[n - 4] = (regs[n - 4]! & ~0xff00) | ((v & 0xff) << 8);
}

function width(d: DecodedInsn, kind: string): 8 | 16 | 32 {
  const t = kind === 'AL' ? 'b' : kind === 'eAX' ? 'v' : kind[1];
  return t === 'b' ? 8 : t === 'w' ? 16 : d.opsize;
}

/**
 * Instructions decoded at MMIO exits, per VM, by guest-physical address and code size: a driver
 * touches its device from a few places, and decoding (a page walk per byte) was most of an MMIO
 * exit's handler. An entry is used only while the guest's bytes there are still the same.
 */
interface Decoded { readonly bytes: Uint8Array; readonly insn: DecodedInsn }
const decodedByVm = new WeakMap<object, Map<number, Decoded>>();
const DECODED_PER_VM = 256;

/** The instruction at the guest's RIP, fetched through its paging, or why it could not be. */
function fetchInstruction(ctx: ExitContext): DecodedInsn | string {
  const { vcpu, vm } = ctx;
  const cs = vcpu.segmentBase(1);
  const bits = vcpu.vmcs.read(F.GUEST_CS_AR_BYTES) & 0x4000 ? 32 : 16;
  const rip = vcpu.rip;
  const first = vcpu.translate((cs + rip) >>> 0, false);
  let cache = decodedByVm.get(vm);
  if (cache === undefined) { cache = new Map(); decodedByVm.set(vm, cache); }
  const gpa = 'gpa' in first ? first.gpa : -1;
  const key = gpa < 0 ? -1 : gpa * 2 + (bits === 32 ? 1 : 0);
  const hit = key < 0 ? undefined : cache.get(key);
  if (hit !== undefined && vm.ram.contains(gpa, hit.bytes.length)) {
    const here = vm.ram.view().subarray(gpa, gpa + hit.bytes.length);
    if (here.every((b, i) => b === hit.bytes[i])) return hit.insn;
  }
  const r = decode((i) => {
    const t = vcpu.translate((cs + rip + i) >>> 0, false);
    if ('pageFault' in t || !vm.ram.contains(t.gpa, 1)) throw new Error('instruction fetch outside guest memory');
    return vm.ram.read8(t.gpa);
  }, bits);
  if (isDecodeFailure(r)) return `undecodable instruction at 0x${rip.toString(16)}`;
  // Kept when it lies in one page (its bytes are then contiguous in guest-physical memory).
  if (key >= 0 && (gpa & 0xfff) + r.length <= 0x1000) {
    if (cache.size >= DECODED_PER_VM) cache.clear();
    cache.set(key, { bytes: vm.ram.view().slice(gpa, gpa + r.length), insn: r });
  }
  return r;
}

/** `ev` faulted at guest-physical `ev.gpa` inside `device`'s range of the VM's MMIO bus. */
export function handleMmio(ctx: ExitContext, ev: Extract<GuestExit, { kind: 'ept-violation' }>,
  device: { readonly base: number; readonly length: number }): ExitAction {
  const { vm, vcpu } = ctx;
  let d: DecodedInsn | string;
  try {
    d = fetchInstruction(ctx);
  } catch (e) {
    d = (e as Error).message;
  }
  const fail = (why: string): ExitAction => {
    vm.halt({ kind: 'crash', reason: `MMIO ${ev.access} at guest-physical 0x${ev.gpa.toString(16)}: ${why}` });
    return 'stop';
  };
  if (typeof d === 'string') return fail(d);
  const op = d.form.op;
  const [dst, src] = d.form.operands as [string, string];
  const regs = vcpu.regs;
  const store = op === 'MOV' && (dst[0] === 'E' || dst[0] === 'O');
  const load = !store && (op === 'MOV' || op === 'MOVZX' || op === 'MOVSX') && (src[0] === 'E' || src[0] === 'O');
  if (!store && !load) return fail(`${d.form.mnemonic} is not a load or store the hypervisor emulates`);
  const w = width(d, store ? dst : src);
  // The processor reports the first byte that faulted; the rest of the access must lie in the
  // same device, or it reaches guest-physical memory that is neither RAM nor a device.
  if (ev.gpa + w / 8 > device.base + device.length) {
    return fail(`a ${w / 8}-byte access runs past the device's range into unbacked guest-physical 0x${(ev.gpa + w / 8 - 1).toString(16)}`);
  }
  vm.sync();
  if (store) {
    const value = src[0] === 'I' ? d.imm & (w === 32 ? -1 : (1 << w) - 1) : src[0] === 'G' ? readReg(regs, d.reg, w) : readReg(regs, 0, w);
    vm.mmio.mmioWrite(ev.gpa, (w / 8) as AccessSize, value >>> 0);
  } else {
    let value = vm.mmio.mmioRead(ev.gpa, (w / 8) as AccessSize);
    if (op === 'MOVSX') value = w === 8 ? (value << 24) >> 24 : (value << 16) >> 16;
    writeReg(regs, dst[0] === 'G' ? d.reg : 0, width(d, dst), value);
  }
  vcpu.rip = (vcpu.rip + d.length) >>> 0;
  vcpu.emulated++;
  return vm.stop ? 'stop' : 'resume';
}

/**
 * VM snapshots: everything a VM is, saved field by field and restored into any Hypervisor, in this
 * process or another, so the guest continues as if nothing happened.
 *
 * A snapshot holds the vCPU (every guest-state and VM-specific control field of its VMCS by name,
 * the general registers, CR2, halted), every device's own named state (PIC pair, PIT, port B,
 * COM1, the MMIO UART, isa-debug-exit), the paravirtual state (events, timer, console input), the
 * VM's clock and TSC, its scheduler accounting, and guest memory: the non-zero pages, deflated
 * (zero pages cost nothing). The file is JSON: { format, version, checksum, body }, the checksum a
 * SHA-256 of the body's JSON; a truncated, corrupted or version-mismatched file is refused with
 * the reason before anything is touched.
 *
 * Host-specific VMCS fields (host state, EPT pointer, bitmaps, VPID) are not saved: the restoring
 * hypervisor sets its own. Host time is not saved either: the VM's clock and TSC continue from
 * their saved values on whatever host time the destination has.
 */
import { createHash } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { FIELDS, VmcsField as F } from '../emulator/vmx/fields.js';
import type { Hypervisor } from './hypervisor.js';
import { isZeroPage, PAGE } from './memory.js';
import type { Vm, VmStop } from './vm.js';

export const SNAPSHOT_FORMAT = 'trapvisor-vm-snapshot';
export const SNAPSHOT_VERSION = 1;

/** VMCS fields the destination owns (host state, host-physical pointers, tags). */
const HOST_OWNED = new Set<number>([
  F.EPT_POINTER, F.IO_BITMAP_A, F.IO_BITMAP_B, F.MSR_BITMAP, F.VMCS_LINK_POINTER, F.VIRTUAL_PROCESSOR_ID,
  F.TSC_OFFSET, F.VM_EXIT_MSR_STORE_ADDR, F.VM_EXIT_MSR_LOAD_ADDR, F.VM_ENTRY_MSR_LOAD_ADDR,
]);
const SAVED_FIELDS = FIELDS.filter((f) => f.type !== 'host' && !HOST_OWNED.has(f.encoding));

const REGISTER_NAMES = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'] as const;

export interface VcpuState {
  vmcs: Record<string, string>;
  registers: Record<(typeof REGISTER_NAMES)[number], number>;
  cr2: number;
  halted: boolean;
  executed: number;
  emulated: number;
  /** The guest's TSC when saved (the destination computes its own TSC offset). */
  guestTsc: string;
}

export interface VmState {
  name: string;
  memorySize: number;
  weight: number;
  /** The VM's clock (ns since it booted) when saved. */
  now: number;
  stop: VmStop | null;
  tscAux: number;
  vcpu: VcpuState;
  devices: Record<string, unknown>;
  pv: {
    events: number; eventsEnabled: boolean; eventInService: boolean; eventVector: number;
    timerDeadline: number | null; timerPeriod: number; input: number[];
  };
  scheduler: { virtualRuntime: number };
}

/** Guest pages as they travel: page numbers and their contents, concatenated and deflated. */
export interface EncodedPages {
  pageSize: number;
  pages: number[];
  data: string;
}

export interface SnapshotBody {
  vm: VmState;
  memory: EncodedPages | null;
}

export interface SnapshotFile {
  format: string;
  version: number;
  checksum: string;
  body: SnapshotBody;
}

/** A snapshot that cannot be used, and why. */
export class SnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotError';
  }
}

const hex64 = (v: bigint) => `0x${v.toString(16)}`;

/** The VM's device states by name. */
function saveDevices(vm: Vm): Record<string, unknown> {
  const d = vm.devices;
  return {
    pic: d.pic.saveState(), pit: d.pit.saveState(), portB: d.portB.saveState(), com1: d.uart.saveState(),
    debugExit: d.debugExit.saveState(), mmioUart: vm.mmioUart.saveState(),
  };
}

/** Everything about a VM but its memory (the stop-and-copy part of a migration). */
export function saveVmState(hv: Hypervisor, vm: Vm): VmState {
  // Devices as of now, however long since an exit last synced them (Vm.quietUntil).
  vm.sync();
  const vcpu = hv.vcpuOf(vm);
  const vmcs: Record<string, string> = {};
  for (const f of SAVED_FIELDS) vmcs[f.name] = hex64(vcpu.vmcs.read64(f.encoding));
  const registers = Object.fromEntries(REGISTER_NAMES.map((n, i) => [n, vcpu.regs[i]! >>> 0])) as VcpuState['registers'];
  const guestTsc = BigInt.asUintN(64, hv.hostTsc() + BigInt.asIntN(64, vcpu.vmcs.read64(F.TSC_OFFSET)));
  return {
    name: vm.name, memorySize: vm.ram.size, weight: vm.weight, now: vm.now(), stop: vm.stop, tscAux: vm.tscAux,
    vcpu: { vmcs, registers, cr2: vcpu.cr2 >>> 0, halted: vcpu.halted, executed: vcpu.executed, emulated: vcpu.emulated, guestTsc: hex64(guestTsc) },
    devices: saveDevices(vm),
    pv: {
      events: vm.pvEvents, eventsEnabled: vm.pvEventsEnabled, eventInService: vm.pvEventInService, eventVector: vm.pvEventVector,
      timerDeadline: vm.pvTimerDeadline === Infinity ? null : vm.pvTimerDeadline, timerPeriod: vm.pvTimerPeriod, input: [...vm.pvInput],
    },
    scheduler: { virtualRuntime: hv.scheduler.virtualRuntime(vcpu) },
  };
}

/**
 * The non-zero pages of guest memory (or of `only`), deflated at zlib `level` (default 6; 1 is
 * several times faster on the incompressible pages a busy guest leaves, for a little more size).
 */
export function encodePages(vm: Vm, only?: readonly number[], level = 6): EncodedPages {
  const view = vm.ram.view();
  const pages: number[] = [];
  const chunks: Uint8Array[] = [];
  const candidates = only ?? Array.from({ length: view.length / PAGE }, (_, i) => i);
  for (const p of candidates) {
    const page = view.subarray(p * PAGE, (p + 1) * PAGE);
    if (only === undefined && isZeroPage(page)) continue;
    pages.push(p);
    chunks.push(page);
  }
  const all = new Uint8Array(chunks.length * PAGE);
  chunks.forEach((c, i) => all.set(c, i * PAGE));
  return { pageSize: PAGE, pages, data: deflateRawSync(all, { level }).toString('base64') };
}

/** Decompresses and checks encoded pages against a memory size (nothing is written). */
export function inflatePages(memory: EncodedPages, memorySize: number): { pages: number[]; data: Uint8Array } {
  if (memory.pageSize !== PAGE) throw new SnapshotError(`page size ${memory.pageSize} is not ${PAGE}`);
  if (!Array.isArray(memory.pages) || typeof memory.data !== 'string') throw new SnapshotError('guest memory is malformed');
  let data: Buffer;
  try {
    data = inflateRawSync(Buffer.from(memory.data, 'base64'));
  } catch {
    throw new SnapshotError('guest memory does not decompress');
  }
  if (data.length !== memory.pages.length * PAGE) throw new SnapshotError(`guest memory holds ${data.length} bytes for ${memory.pages.length} pages`);
  const count = memorySize / PAGE;
  for (const p of memory.pages) if (!Number.isInteger(p) || p < 0 || p >= count) throw new SnapshotError(`page ${p} is outside ${memorySize} bytes of memory`);
  return { pages: memory.pages, data };
}

/** Writes checked pages into guest memory (`vm.ram.view()`, or a copy of it such as a backup's). */
export function writePages(view: Uint8Array, inflated: { pages: number[]; data: Uint8Array }): void {
  inflated.pages.forEach((p, i) => view.set(inflated.data.subarray(i * PAGE, (i + 1) * PAGE), p * PAGE));
}

function check(cond: unknown, what: string): asserts cond {
  if (!cond) throw new SnapshotError(what);
}

export function validateState(s: VmState): void {
  check(s && typeof s === 'object', 'no VM state');
  check(typeof s.name === 'string', 'VM name missing');
  check(Number.isInteger(s.memorySize) && s.memorySize >= 0x200000 && s.memorySize % PAGE === 0, `bad memory size ${s.memorySize}`);
  check(typeof s.now === 'number' && s.now >= 0, 'bad VM clock');
  check(s.vcpu && typeof s.vcpu.vmcs === 'object' && typeof s.vcpu.registers === 'object', 'vCPU state missing');
  for (const f of SAVED_FIELDS) check(typeof s.vcpu.vmcs[f.name] === 'string' && /^0x[0-9a-f]+$/.test(s.vcpu.vmcs[f.name]!), `VMCS field ${f.name} missing or malformed`);
  for (const n of REGISTER_NAMES) check(Number.isInteger(s.vcpu.registers[n]), `register ${n} missing`);
  check(/^0x[0-9a-f]+$/.test(s.vcpu.guestTsc), 'guest TSC malformed');
  check(s.devices && typeof s.devices === 'object', 'device states missing');
  check(s.pv && Array.isArray(s.pv.input), 'paravirtual state missing');
}

/** Restores devices, vCPU and PV state into `vm` (same memory size), replacing what it had. */
export function loadVmState(hv: Hypervisor, vm: Vm, s: VmState): void {
  validateState(s);
  check(s.memorySize === vm.ram.size, `the snapshot's VM has ${s.memorySize} bytes of memory, this one ${vm.ram.size}`);
  const d = vm.devices, dev = s.devices as Record<string, unknown>;
  // Device loadState validates before it changes anything; load all, PIC last (it holds the lines).
  try {
    d.pit.loadState(dev.pit); d.portB.loadState(dev.portB); d.uart.loadState(dev.com1);
    d.debugExit.loadState(dev.debugExit); vm.mmioUart.loadState(dev.mmioUart); d.pic.loadState(dev.pic);
  } catch (e) {
    throw new SnapshotError(`device state: ${(e as Error).message}`);
  }
  const vcpu = hv.vcpuOf(vm);
  for (const f of SAVED_FIELDS) vcpu.vmcs.write64(f.encoding, BigInt(s.vcpu.vmcs[f.name]!));
  REGISTER_NAMES.forEach((n, i) => { vcpu.regs[i] = s.vcpu.registers[n] | 0; });
  vcpu.cr2 = s.vcpu.cr2 | 0;
  vcpu.halted = s.vcpu.halted;
  vcpu.executed = s.vcpu.executed;
  vcpu.emulated = s.vcpu.emulated;
  vcpu.launched = false;
  hv.cpu.vmx.vmclear(BigInt(vcpu.vmcs.address));
  // The VM's clock and TSC continue where they were, on this host's time.
  vm.bootNs = hv.now() - s.now;
  vcpu.vmcs.write64(F.TSC_OFFSET, BigInt.asUintN(64, BigInt(s.vcpu.guestTsc) - hv.hostTsc()));
  vm.stop = s.stop;
  vm.tscAux = s.tscAux;
  vm.pvEvents = s.pv.events; vm.pvEventsEnabled = s.pv.eventsEnabled; vm.pvEventInService = s.pv.eventInService;
  vm.pvEventVector = s.pv.eventVector; vm.setPvTimer(s.pv.timerDeadline ?? Infinity, s.pv.timerPeriod);
  vm.pvInput.splice(0, vm.pvInput.length, ...s.pv.input);
  hv.scheduler.setVirtualRuntime(vcpu, s.scheduler.virtualRuntime);
  // Guest memory was replaced under the VM: translations cached under its VPID describe page
  // tables it no longer has (KVM likewise flushes a vCPU's TLB when its state is set).
  const vpid = Number(vcpu.vmcs.read(F.VIRTUAL_PROCESSOR_ID));
  if (vpid !== 0) hv.cpu.vmx.invvpid(1, vpid, 0n);
  hv.cpu.flushDecodeCache();
}

/** SHA-256 of a body's JSON: guards snapshot files and replication checkpoints. */
export function checksumOf(body: unknown): string {
  return createHash('sha256').update(JSON.stringify(body)).digest('hex');
}

/** A whole-VM snapshot as file contents. */
export function snapshotVm(hv: Hypervisor, vm: Vm): string {
  const body: SnapshotBody = { vm: saveVmState(hv, vm), memory: encodePages(vm) };
  const file: SnapshotFile = { format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, checksum: checksumOf(body), body };
  return JSON.stringify(file);
}

/** Parses and checks a snapshot file; throws SnapshotError with the reason. */
export function parseSnapshot(text: string): SnapshotFile {
  let file: SnapshotFile;
  try {
    file = JSON.parse(text) as SnapshotFile;
  } catch {
    throw new SnapshotError('not a trapvisor snapshot (not JSON: truncated or not a snapshot at all)');
  }
  check(file && file.format === SNAPSHOT_FORMAT, 'not a trapvisor snapshot (format field)');
  check(file.version === SNAPSHOT_VERSION, `snapshot version ${file.version} is not supported (this trapvisor reads version ${SNAPSHOT_VERSION})`);
  check(file.body && typeof file.body === 'object', 'snapshot body missing');
  check(file.checksum === checksumOf(file.body), 'snapshot checksum mismatch: the file is corrupted');
  validateState(file.body.vm);
  check(file.body.memory !== null, 'snapshot holds no guest memory');
  return file;
}

/** Creates a VM from a snapshot in `hv` and restores it; nothing is created on an error. */
export function restoreVm(hv: Hypervisor, file: SnapshotFile, console?: (bytes: Uint8Array) => void): Vm {
  const s = file.body.vm;
  const pages = inflatePages(file.body.memory!, s.memorySize);
  const vm = hv.createVm({ name: s.name, memory: s.memorySize, weight: s.weight, console });
  writePages(vm.ram.view(), pages);
  loadVmState(hv, vm, s);
  return vm;
}

/**
 * Rollback: puts a VM that exists (and may be running) back into the state of its own snapshot,
 * in place: its memory, vCPU and devices as they were, its console and place in the scheduler
 * kept. Everything is checked before anything changes.
 */
export function rollbackVm(hv: Hypervisor, vm: Vm, file: SnapshotFile): void {
  const s = file.body.vm;
  validateState(s);
  check(s.memorySize === vm.ram.size, `the snapshot's VM has ${s.memorySize} bytes of memory, this one ${vm.ram.size}`);
  const pages = inflatePages(file.body.memory!, s.memorySize);
  vm.ram.clear();
  writePages(vm.ram.view(), pages);
  loadVmState(hv, vm, s);
}

/**
 * The bare-metal PC: one CPU, RAM, the PC's devices on their usual ports, and the loop that runs
 * the CPU exactly up to the next device event. No hypervisor: this is the "physical machine" every
 * virtualization overhead is measured against, and what `trapvisor boot --bare` runs.
 *
 * Time is virtual. The clock reads (retired instructions + skipped idle instructions) x
 * `nsPerInstruction`: the machine is a CPU retiring one instruction every 10 ns (100 MIPS) unless
 * told otherwise. While the CPU is halted with interrupts enabled the loop skips straight to the
 * next device deadline, and the skipped time also advances the TSC, so a guest sees a consistent
 * clock whether it busy-waits or halts. Nothing here reads the wall clock: the same image and the
 * same input give the same run.
 *
 * Devices: 8259 PIC pair (0x20, 0xA0), 8254 PIT (0x40, IRQ0), port B (0x61), 16550 UART on COM1
 * (0x3F8, IRQ4), QEMU's isa-debug-exit (0xF4), and optionally a debug console (0xE9) and a POST
 * code port (0x80). Unmapped ports read all-ones and ignore writes; the bus counts them.
 */
import { Cpu, type StopReason } from '../cpu/cpu.js';
import { IF } from '../cpu/flags.js';
import { enterFlatProtectedMode } from '../cpu/segments.js';
import {
  DebugExit, Debugcon, MmioBus, PicPair, Pit8254, PortBus, PostCodePort, SystemControlPort, Uart16550,
  type AccessSize, type MmioDevice, type VirtualClock,
} from '../devices/index.js';
import { PcDevices } from './pc-devices.js';

/** One port access, reported to `onIo` (the CLI's --trace-io). */
export interface IoEvent {
  kind: 'in' | 'out';
  port: number;
  size: AccessSize;
  value: number;
  /** Name of the device that decoded it, or null for an unmapped port. */
  device: string | null;
  /** Retired-instruction count when it happened. */
  icount: number;
}

export interface BareMachineOptions {
  /** RAM in bytes, a multiple of 4 KiB (at least 2 MiB for Multiboot kernels). */
  ramSize: number;
  engine?: 'blocks' | 'interpret';
  /** Bytes the guest transmits on COM1. */
  serialOut?: (byte: number) => void;
  /** A Bochs/QEMU-style debug console: bytes written to `port` go to `out`. */
  debugcon?: { port: number; out: (byte: number) => void };
  /** Port whose writes are recorded as POST codes (0x80 on a PC). */
  postPort?: number;
  /** Every port access, for tracing. Slows port I/O a little; costs nothing when unset. */
  onIo?: (event: IoEvent) => void;
  /** Virtual nanoseconds per retired instruction (default 10). */
  nsPerInstruction?: number;
}

/** Why `run` returned. */
export type MachineStop =
  /** The guest wrote to isa-debug-exit; `status` is (n << 1) | 1, the process exit status. */
  | { kind: 'exit'; status: number }
  /** A fault while delivering a double fault: a PC would reset; the machine stops instead. */
  | { kind: 'triple-fault'; vector: number }
  /** HLT with nothing that could ever wake it (IF = 0, or no timer and no input pending). */
  | { kind: 'halted'; interruptsEnabled: boolean }
  /** The instruction budget ran out. */
  | { kind: 'budget' }
  /** A debugger hook stopped the CPU at an instruction boundary (Cpu.onBreak, breakPending). */
  | { kind: 'debug' };

/** The PC's reset vector region: a ROM of 64 or 128 KiB ends at 1 MiB and again at 4 GiB. */
const ROM_END_LOW = 0x100000;
const FOUR_GIB = 2 ** 32;
/** Device events in a row that may pass while halted without the CPU waking, before giving up. */
const MAX_STALLED_WAKES = 10_000;

class RomAlias implements MmioDevice {
  readonly name = 'rom';
  readonly dataWidth = 4;
  constructor(private readonly bytes: Uint8Array) {}
  mmioRead(offset: number, size: AccessSize): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = (v * 256) + (this.bytes[offset + i] ?? 0xff);
    return v;
  }
  mmioWrite(): void { /* ROM */ }
}

export class BareMachine {
  readonly cpu: Cpu;
  /** The PC's devices (pc-devices.ts); the fields below name them for convenience. */
  readonly devices: PcDevices;
  readonly ports: PortBus;
  readonly mmio = new MmioBus();
  readonly pic: PicPair;
  readonly pit: Pit8254;
  readonly uart: Uart16550;
  readonly portB: SystemControlPort;
  readonly debugExit: DebugExit;
  readonly post: PostCodePort | null = null;
  readonly clock: VirtualClock;
  readonly nsPerInstruction: number;
  /** Instructions' worth of time skipped while halted. */
  idleInstructions = 0;
  /** Status requested through isa-debug-exit, once the guest asked to stop. */
  exitStatus: number | null = null;
  /** Port accesses that hit no device, by kind. */
  unmappedPortAccesses = 0;
  private sliceDeadline = Infinity;

  constructor(options: BareMachineOptions) {
    this.nsPerInstruction = options.nsPerInstruction ?? 10;
    this.cpu = new Cpu({ ramSize: options.ramSize });
    this.cpu.engine = options.engine ?? 'blocks';
    const cpu = this.cpu;
    const ns = this.nsPerInstruction;
    this.clock = { now: () => (cpu.icount + this.idleInstructions) * ns };
    this.devices = new PcDevices({
      clock: this.clock,
      serialOut: options.serialOut,
      onExit: (status) => {
        this.exitStatus = status;
        cpu.stopRequest = 'isa-debug-exit';
      },
    });
    ({ ports: this.ports, pic: this.pic, pit: this.pit, uart: this.uart, portB: this.portB, debugExit: this.debugExit } = this.devices);
    if (options.debugcon) this.ports.register(options.debugcon.port, 1, new Debugcon(options.debugcon.out));
    if (options.postPort !== undefined) {
      this.post = new PostCodePort();
      this.ports.register(options.postPort, 1, this.post);
    }
    cpu.intr = this.pic;
    const trace = options.onIo;
    cpu.io = {
      portRead: (port, size) => {
        this.syncDevices();
        const value = this.ports.portRead(port, size);
        if (trace) trace({ kind: 'in', port, size, value, device: this.ports.find(port)?.device.name ?? null, icount: cpu.icount });
        return value;
      },
      portWrite: (port, size, value) => {
        this.syncDevices();
        this.ports.portWrite(port, size, value);
        if (trace) trace({ kind: 'out', port, size, value: value >>> 0, device: this.ports.find(port)?.device.name ?? null, icount: cpu.icount });
        // A write may bring a device event closer than the end of the current slice.
        if (this.nextDeadline() < this.sliceDeadline) cpu.stopRequest ??= 'device reprogrammed';
      },
    };
    cpu.mem.io = {
      read: (addr, size) => this.mmio.mmioRead(addr, size),
      write: (addr, size, value) => this.mmio.mmioWrite(addr, size, value),
    };
  }

  /** Virtual time in ns. */
  now(): number {
    return this.clock.now();
  }

  /** The earliest pending device event (virtual ns), or Infinity. */
  nextDeadline(): number {
    return this.devices.nextDeadline();
  }

  /** Performs every device event due by now. */
  syncDevices(): void {
    this.devices.sync();
  }

  /** Characters arriving on COM1's receive wire (at the line's baud rate, from now on). */
  serialInput(bytes: Iterable<number>): void {
    this.uart.pushInput(bytes);
  }

  // ------------------------------------------------------------------ loading

  /**
   * Enters the CPU as a Multiboot loader leaves it: protected mode with flat 4 GiB segments, paging
   * off, interrupts off, EAX = magic, EBX = address of the information structure. The BIOS has left
   * the PICs initialized (IRQ0-7 at vector 8, IRQ8-15 at 0x70, everything but the cascade masked).
   */
  bootProtected(segments: readonly { address: number; data: Uint8Array; memorySize: number }[], entry: number, eax: number, ebx: number,
    writes: readonly { address: number; data: Uint8Array }[] = []): void {
    const cpu = this.cpu;
    cpu.reset();
    for (const s of segments) {
      cpu.mem.load(s.address, s.data);
      cpu.mem.u8.fill(0, s.address + s.data.length, s.address + s.memorySize);
    }
    for (const w of writes) cpu.mem.load(w.address, w.data);
    enterFlatProtectedMode(cpu);
    cpu.eip = entry;
    cpu.r[0] = eax | 0;
    cpu.r[3] = ebx | 0;
    cpu.eflags = 0x2;
    this.pic.initializeLikeBios();
    cpu.flushDecodeCache();
  }

  /**
   * Maps a firmware ROM (64 or 128 KiB) just below 1 MiB and again at the top of the 4 GiB space,
   * and puts the CPU in its reset state: real mode, CS = F000 with base FFFF0000, IP = FFF0, so the
   * first fetch is the ROM's last 16 bytes through the high alias.
   */
  bootRom(rom: Uint8Array): void {
    if (rom.length !== 0x10000 && rom.length !== 0x20000) {
      throw new RangeError(`ROM is ${rom.length} bytes; it must be 64 KiB or 128 KiB`);
    }
    this.cpu.reset();
    this.cpu.mem.mapRom(ROM_END_LOW - rom.length, rom);
    this.mmio.register(FOUR_GIB - rom.length, rom.length, new RomAlias(rom));
    this.cpu.flushDecodeCache();
  }

  // ------------------------------------------------------------------ running

  /**
   * Runs until the guest exits through isa-debug-exit, triple-faults, halts for good, or
   * `maxInstructions` more instructions have retired. Idle time skipped while halted does not count
   * against the budget. Call again to continue.
   */
  run(maxInstructions: number): MachineStop {
    const cpu = this.cpu;
    const end = cpu.icount + maxInstructions;
    const ns = this.nsPerInstruction;
    let lastIcount = -1, stalledWakes = 0;
    for (;;) {
      if (this.exitStatus !== null) return { kind: 'exit', status: this.exitStatus };
      this.syncDevices();
      const left = end - cpu.icount;
      if (left <= 0) return { kind: 'budget' };
      const deadline = this.nextDeadline();
      const now = this.now();
      const slice = deadline === Infinity ? left : Math.min(left, Math.max(1, Math.ceil((deadline - now) / ns)));
      this.sliceDeadline = now + slice * ns;
      const stop: StopReason = cpu.run(slice);
      this.sliceDeadline = Infinity;
      if (stop.kind === 'triple-fault') return { kind: 'triple-fault', vector: stop.vector };
      if (stop.kind === 'stopped' && stop.why === 'debug') return { kind: 'debug' };
      if (stop.kind !== 'halted') continue;
      // Halted: nothing pending right now. Sleep until the next device event, if there is one.
      this.syncDevices();
      const interruptsEnabled = (cpu.lf.flags & IF) !== 0;
      if (interruptsEnabled && this.pic.hasPendingInterrupt()) continue;
      const wake = this.nextDeadline();
      if (!interruptsEnabled || wake === Infinity) return { kind: 'halted', interruptsEnabled };
      // A timer whose interrupt is masked wakes nobody: after many device events with no
      // instruction retired in between, the CPU is halted for good.
      if (cpu.icount === lastIcount) {
        if (++stalledWakes > MAX_STALLED_WAKES) return { kind: 'halted', interruptsEnabled };
      } else stalledWakes = 0;
      lastIcount = cpu.icount;
      const skip = Math.max(1, Math.ceil((wake - this.now()) / ns));
      this.idleInstructions += skip;
      cpu.tscOffset += BigInt(skip);
    }
  }
}

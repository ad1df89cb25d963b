/**
 * A virtual machine: its guest-physical memory (a block of host frames mapped by its own EPT),
 * its own PC devices on its own clock, an MMIO bus for devices left out of the EPT map, the
 * paravirtual state (console, timer, events), its one vCPU, and what happened to it.
 */
import { Uart16550, MmioBus, UNCONNECTED_IRQ } from '../emulator/devices/index.js';
import { PcDevices } from '../emulator/machine/pc-devices.js';
import { PvEvent } from './abi.js';
import { EptTables, GuestRam, type FrameAllocator } from './memory.js';
import type { PhysicalMemory } from '../emulator/cpu/memory.js';

/** Guest-physical base of the MMIO UART (a 16550 with 1-byte register stride). */
export const MMIO_UART_BASE = 0xfe000000;
export const MMIO_UART_SIZE = 0x1000;

export interface VmConfig {
  name: string;
  /** Guest RAM in bytes (a multiple of 4 KiB). */
  memory: number;
  /** Scheduler weight (proportional share). */
  weight?: number;
  /** Console output (COM1, the MMIO UART and the console hypercall all land here). */
  console?: (bytes: Uint8Array) => void;
}

/** Why a VM stopped. */
export type VmStop =
  | { kind: 'exit'; status: number }
  | { kind: 'triple-fault' }
  | { kind: 'halted' }
  | { kind: 'crash'; reason: string }
  /** Moved to another hypervisor by live migration: it runs there now. */
  | { kind: 'migrated' };

/**
 * Per-reason exit accounting (`perf kvm stat`): count, total handling time in wall ns, and how
 * many of them the exit fast path completed in place (the guest resumed without the round trip).
 */
export interface ExitStat {
  count: number;
  /** Sampled (EXIT_TIMING_SAMPLE in hypervisor.ts), over the exits not completed inline. */
  handlerNs: number;
  /** Completed on the exit fast path: the guest resumed without the VMCS round trip. */
  inPlace: number;
  /** Of those, completed inline by a compiled block (Hypervisor.inlineCpuid, inlineVmcall, inlineIn, inlineOut). */
  inline: number;
}

export class Vm {
  readonly name: string;
  readonly ram: GuestRam;
  readonly ept: EptTables;
  readonly devices: PcDevices;
  readonly mmio = new MmioBus();
  readonly mmioUart: Uart16550;
  readonly weight: number;
  /** Host virtual time (ns) when the VM booted: its clock reads host time minus this. */
  bootNs = 0;
  stop: VmStop | null = null;
  readonly exitStats = new Map<number, ExitStat>();
  /** Every byte the guest wrote to a console, in order. */
  readonly consoleLog: number[] = [];

  /** IA32_TSC_AUX as this VM last wrote it (RDTSCP returns it). */
  tscAux = 0;

  // Paravirtual state.
  pvEvents = 0;
  /** Events are delivered only to a guest that asked for them (any event or timer hypercall). */
  pvEventsEnabled = false;
  pvEventInService = false;
  pvEventVector = 0x20;
  /** Next PV timer event (VM time, ns) and its period (0: one-shot): see setPvTimer. */
  pvTimerDeadline = Infinity;
  pvTimerPeriod = 0;

  /** Sets the PV timer (SET_TIMER, CANCEL_TIMER, a restore); the deadline may come sooner now. */
  setPvTimer(deadline: number, period: number): void {
    this.pvTimerDeadline = deadline;
    this.pvTimerPeriod = period;
    this.quietUntil = -Infinity;
  }
  /** Console input not yet read by CONSOLE_READ (PV) — FV input goes to the UART. */
  readonly pvInput: number[] = [];

  private readonly consoleSink: (bytes: Uint8Array) => void;

  constructor(readonly id: number, config: VmConfig, mem: PhysicalMemory, frames: FrameAllocator, private readonly hostNow: () => number) {
    this.name = config.name;
    this.weight = config.weight ?? 1;
    this.consoleSink = config.console ?? (() => {});
    const base = frames.allocate(config.memory, 0x200000);
    this.ram = new GuestRam(mem, base, config.memory);
    this.ept = new EptTables(mem, frames);
    this.ept.map(0, base, config.memory);
    const clock = { now: () => this.now() };
    this.devices = new PcDevices({
      clock,
      serialOut: (b) => this.writeConsole(Uint8Array.of(b)),
      onExit: (status) => this.halt({ kind: 'exit', status }),
    });
    // A second 16550, reached only by MMIO: its page is not in the EPT map, so every access is an
    // EPT violation the hypervisor completes by decoding the guest's instruction.
    this.mmioUart = new Uart16550({ clock, irq: UNCONNECTED_IRQ, transmit: (b) => this.writeConsole(Uint8Array.of(b)), name: 'mmio-uart' });
    this.mmio.register(MMIO_UART_BASE, MMIO_UART_SIZE, this.mmioUart);
  }

  /** The VM's virtual time in ns (host time since it booted). */
  now(): number {
    return this.hostNow() - this.bootNs;
  }

  /** While set (re-execution for reverse debugging), console output is dropped: it was shown once. */
  consoleMuted = false;

  writeConsole(bytes: Uint8Array): void {
    if (this.consoleMuted) return;
    for (const b of bytes) this.consoleLog.push(b);
    this.consoleSink(bytes);
  }

  /** Console input: to the UART's receive wire (FV) and the PV input queue. */
  input(bytes: Uint8Array): void {
    this.devices.uart.pushInput(bytes);
    for (const b of bytes) this.pvInput.push(b);
    if (bytes.length) this.raiseEvent(PvEvent.CONSOLE_INPUT);
  }

  raiseEvent(event: number): void {
    this.pvEvents |= 1 << event;
  }

  /** Brings devices and the PV timer up to now (`now`: this.now(), when the caller has it). */
  sync(now = this.now()): void {
    this.syncs++;
    this.devices.sync(now);
    this.mmioUart.advanceTo(now); // its deadlines count too (nextDeadline), interrupt line or not
    if (now >= this.pvTimerDeadline) {
      this.raiseEvent(PvEvent.TIMER);
      if (this.pvTimerPeriod > 0) {
        const missed = Math.floor((now - this.pvTimerDeadline) / this.pvTimerPeriod);
        this.pvTimerDeadline += (missed + 1) * this.pvTimerPeriod;
      } else this.pvTimerDeadline = Infinity;
    }
  }

  /**
   * The VM time before which no device or PV-timer event is due (-Infinity: to be found again,
   * see quietDeadline). The exit fast path needs no device sync before it. While the guest runs,
   * only its exits can bring an event forward: port I/O (portIo forgets this time), the PV timer
   * (setPvTimer forgets it), and the exits the run loop handles, which always settle before the
   * next entry. Syncing is composable (syncing at t1 then at t2 leaves what syncing at t2 alone
   * leaves), and saving the VM syncs it first, so the syncs skipped change no saved state.
   */
  quietUntil = -Infinity;

  /** How many times the devices were synced (an interrupt may have been raised at each). */
  syncs = 0;

  /** Syncs to `now` and returns the next deadline, remembered as `quietUntil`. */
  settle(now: number): number {
    this.sync(now);
    return (this.quietUntil = this.nextDeadline());
  }

  /**
   * The next deadline, syncing only when an event is due by `now`. A forgotten `quietUntil` is
   * found again from the devices as they are: their next event after they were last synced, so
   * if that is still ahead of `now`, nothing happened in between that a sync would deliver.
   */
  quietDeadline(now: number): number {
    const deadline = this.knownDeadline();
    return now < deadline ? deadline : this.settle(now);
  }

  /** `quietUntil`, found again from the devices as they are if it was forgotten (no sync). */
  knownDeadline(): number {
    const deadline = this.quietUntil;
    return deadline === -Infinity ? (this.quietUntil = this.nextDeadline()) : deadline;
  }

  /** The earliest event that may change what the guest sees (VM time, ns). */
  nextDeadline(): number {
    return Math.min(this.devices.nextDeadline(), this.pvTimerDeadline, this.mmioUart.nextDeadline());
  }

  /** An interrupt vector waiting for the guest (PIC output or PV events), without taking it. */
  hasPendingInterrupt(): boolean {
    return this.devices.pic.hasPendingInterrupt() || this.pvEventPending();
  }

  private pvEventPending(): boolean {
    return this.pvEventsEnabled && this.pvEvents !== 0 && !this.pvEventInService;
  }

  /** Takes the pending interrupt: the PIC's acknowledge cycle, or the PV event upcall. */
  acknowledgeInterrupt(): number {
    if (this.pvEventPending()) {
      this.pvEventInService = true;
      return this.pvEventVector;
    }
    return this.devices.pic.acknowledge();
  }

  halt(stop: VmStop): void {
    this.stop ??= stop;
  }

  /** The statistics of one exit reason (created at its first exit). */
  exitStat(reason: number): ExitStat {
    let s = this.exitStats.get(reason);
    if (s === undefined) { s = { count: 0, handlerNs: 0, inPlace: 0, inline: 0 }; this.exitStats.set(reason, s); }
    return s;
  }

  get totalExits(): number {
    let n = 0;
    for (const s of this.exitStats.values()) n += s.count;
    return n;
  }
}

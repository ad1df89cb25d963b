/**
 * The hypervisor: owns the one emulated CPU, turns VMX on, allocates host-physical frames for
 * VMCSs, EPT tables and guest memory, and runs several VMs on the CPU with the scheduler, as KVM
 * runs VMs on VT-x. It never executes x86 code of its own: every VM entry and exit goes through
 * the processor's TypeScript VMX API (`cpu.vmx.enter`), which performs the same entry checks and
 * exits as VMLAUNCH/VMRESUME executed by x86 code. The exits it can complete in place it handles
 * inside `enter`, from the processor's `fastExit` call (the exit fast path, `fastExit` below).
 *
 * Time: host time is (retired instructions + emulated instructions + skipped idle time) x
 * nsPerInstruction, the same clock the bare machine keeps; each VM's clock and TSC read host time
 * since it booted. An instruction the hypervisor emulates costs the time of one instruction, so a
 * lone VM sees exactly the timeline it would see on the bare machine.
 */
import { Cpu } from '../emulator/cpu/cpu.js';
import { writeMsr } from '../emulator/cpu/msr.js';
import { enterFlatProtectedMode, SegReg } from '../emulator/cpu/segments.js';
import { ExitReason, Proc, VMCS_REVISION } from '../emulator/vmx/controls.js';
import { VmcsField as F } from '../emulator/vmx/fields.js';
import { FastExit, type InlineExits, type VmExit } from '../emulator/vmx/vmx.js';
import { QUIET_DECLINED } from '../emulator/devices/device.js';
import { mergeRegister, type ExitAction, type ExitContext } from './exits/context.js';
import { decodeExit, type GuestExit } from './exits/decode.js';
import { handleExit } from './exits/index.js';
import { answerCpuid } from './exits/cpuid.js';
import { hypercall, inlineHypercall } from './hypercalls.js';
import { handleInPlace, inPlaceRaisesNoInterrupt } from './exits/in-place.js';
import { buildBootInfo, MULTIBOOT_BOOTLOADER_MAGIC, parseMultiboot } from './loader/multiboot.js';
import { FrameAllocator, PAGE } from './memory.js';
import { Scheduler } from './scheduler.js';
import { Vcpu, type HostState } from './vcpu.js';
import { Vm, type ExitStat, type VmConfig, type VmStop } from './vm.js';

export interface HypervisorOptions {
  /** Host RAM in bytes (everything: VMCSs, EPT tables, every guest's memory). */
  ramSize: number;
  engine?: 'blocks' | 'interpret';
  nsPerInstruction?: number;
  /** Scheduler time slice in guest instructions (default 1,000,000: 10 ms of virtual time). */
  slice?: number;
  /**
   * Complete the exits that allow it on the fast path (`fastExit`, exits/in-place.ts; default
   * true). Off, every exit takes the full round trip: the same results, counts and clocks, only
   * slower (the tests compare the two).
   */
  fastExits?: boolean;
}

/**
 * The scheduler charges a vCPU this many instructions per VM exit (never added to any clock: only
 * slices and shares see it), about what a full exit round trip costs the host here: 1.2-1.4 us
 * for the instruction exits that go through the run loop, 1.9-3.6 us for exceptions, interrupt
 * injection and MMIO (`trapvisor bench exits`), while 500 guest instructions take 0.3-2.5 us at
 * this machine's 200-1,800 MIPS (about 1,000 cycles on real VT-x). Exits completed on the fast
 * path cost 0.07-0.23 us and are charged the same: one price per exit keeps a schedule the same
 * with the fast path on or off. Without it a guest that exits every other
 * instruction (an interrupt storm) would be charged only its instructions and take most of the
 * host's time from its neighbours, as exit handling is paid by the host; with it, the storm only
 * slows that guest down, as CFS charging a KVM vCPU thread does.
 */
export const EXIT_COST = 500;

/**
 * Timing (Vm.exitStats handler time, Vcpu.enterNs) reads the clock for every entry, or every exit
 * of a kind, until EXIT_TIMING_ALL have been seen, then for one in EXIT_TIMING_SAMPLE, each timed
 * one counted that many times: an estimate of the totals that leaves the clock's own cost (2
 * reads of 30-70 ns) off nearly all. Exits go sparser still from EXIT_TIMING_LATE_FROM on, one in
 * EXIT_TIMING_SAMPLE_LATE: a timed exit costs 100-300 ns more than one on the fast path, which at
 * one in 64 is some 5 % of a 90 ns port access. Entries stay at one in 64: each costs 0.5 us or
 * more, and sampled one in 1,024 their estimate came out 2-3x too high in `bench exits` (the timed
 * entries ran slower than the rest; cause not found). Each stretch starts at a multiple of its
 * spacing, so every sample stands for exactly its weight.
 *
 * Exits completed inline are counted but never timed: they take 15-35 ns, less than one clock
 * read, and a sample would have to leave the inline path to be taken, at a cost to every inline
 * exit (3-4 ns of a CPUID at one in 64), and would stand for them with a slower exit. So the
 * handler time covers the exits the hypervisor sees, and the nth exit counted here is the nth of
 * those (ExitStat.count - ExitStat.inline). `bench exits` measures inline exits by difference.
 */
export const EXIT_TIMING_SAMPLE = 64;
export const EXIT_TIMING_SAMPLE_LATE = 1024;
/** Exits of a kind all timed, and the count from which one in EXIT_TIMING_SAMPLE_LATE is. */
export const EXIT_TIMING_ALL = 256, EXIT_TIMING_LATE_FROM = 16384;
/** What the `n`th (from 0) entry counts for if timed: 1, EXIT_TIMING_SAMPLE, or 0 (not timed). */
export function entryTimingWeight(n: number): number {
  if (n < EXIT_TIMING_ALL) return 1;
  return (n & (EXIT_TIMING_SAMPLE - 1)) === 0 ? EXIT_TIMING_SAMPLE : 0;
}

/**
 * What the `n`th (from 0) exit of a kind that the hypervisor sees (not completed inline) counts
 * for if timed: 1, EXIT_TIMING_SAMPLE, EXIT_TIMING_SAMPLE_LATE, or 0 (not timed).
 */
export function timingWeight(n: number): number {
  if (n < EXIT_TIMING_LATE_FROM) return entryTimingWeight(n);
  return (n & (EXIT_TIMING_SAMPLE_LATE - 1)) === 0 ? EXIT_TIMING_SAMPLE_LATE : 0;
}

/** Called after each handled exit (tracing, debugging); never changes what happens. */
export type ExitObserver = (vm: Vm, exit: VmExit, decoded: GuestExit, action: ExitAction) => void;

/** Adds `n` exits completed inline to a reason's statistics. */
function countInline(stat: ExitStat, n: number): void {
  stat.count += n;
  stat.inPlace += n;
  stat.inline += n;
}

/** Exits completed inline and not yet counted (Slice.inlineCpuids, inlineVmcalls, inlineIos). */
function inlinePending(s: Slice): number {
  return s.inlineCpuids + s.inlineVmcalls + s.inlineIos;
}

/** One vCPU's slice, as the run loop and the exit fast path both keep it. */
interface Slice {
  vcpu: Vcpu;
  budget: number;
  /** What the slice used so far: guest instructions, emulated instructions, EXIT_COST per exit. */
  ran: number;
  /** cpu.icount when the guest's instructions were last counted (at entry, at a fast exit). */
  counted: number;
  /** When another VM's sleep ends (otherWakesAt). */
  otherWakesAt: number;
  /** The run loop's context for handlers. */
  ctx: ExitContext;
  /** The statistics of the last reason the fast path handled (one map lookup per run of exits). */
  statReason: number;
  stat: ExitStat | null;
  /** What the handler said, when the exit `enter` returns was handled on the fast path (FastExit.EXIT_AFTER). */
  handled: ExitAction | null;
  /** The CPUID, VMCALL and I/O statistics, for exits completed inline (looked up once a slice). */
  cpuidStat: ExitStat | null;
  vmcallStat: ExitStat | null;
  ioStat: ExitStat | null;
  /**
   * Exits completed inline since the fast exit that armed them (Hypervisor.inlineCpuid,
   * inlineVmcall, inlineIn, inlineOut), whose counts are added to the statistics when the
   * hypervisor next sees an exit (disarmInline).
   */
  inlineCpuids: number;
  inlineVmcalls: number;
  inlineIos: number;
  /** `counted` when they were armed (the instructions retired between them, counted at the disarm). */
  inlineCounted: number;
  /**
   * While the VM's quietUntil is this, the timer is what is left of the slice (sliceBindsTimer):
   * the fast path and inline exits need not work it out. NaN: not known.
   */
  boundUntil: number;
  /**
   * No interrupt is pending, as the last fast exit found, and nothing that could raise one has
   * happened since: no device sync (Vm.syncs), no exit handled but in place by handlers that
   * raise none (inPlaceRaisesNoInterrupt). Cleared by any other exit.
   */
  noInterruptPending: boolean;
}

export type RunResult = { kind: 'all-stopped' } | { kind: 'budget' } | { kind: 'paused' };

/** Device events in a row that may pass with every vCPU blocked and none waking, before giving up. */
const MAX_STALLED_WAKES = 10_000;

export class Hypervisor implements InlineExits {
  readonly cpu: Cpu;
  readonly frames: FrameAllocator;
  readonly vms: Vm[] = [];
  readonly vcpus: Vcpu[] = [];
  readonly scheduler = new Scheduler();
  readonly nsPerInstruction: number;
  readonly slice: number;
  /**
   * A tenth of a slice: how late a sleeping VM's timer may be noticed while another VM runs, and
   * the smallest piece another VM's wake-ups can cut a slice into.
   */
  readonly wakeGranularity: number;
  /** Idle time skipped while every vCPU was blocked, and instructions emulated by handlers. */
  idleInstructions = 0;
  emulatedInstructions = 0;
  observer: ExitObserver | null = null;
  /**
   * Set by a debugger (from the observer or a CPU debug hook): `run` returns { kind: 'paused' }
   * after the exit being handled, with every vCPU's state saved.
   */
  pauseRequested = false;
  private readonly host: HostState;
  private readonly ioBitmaps: [number, number];
  private readonly msrBitmap: number;

  constructor(options: HypervisorOptions) {
    this.nsPerInstruction = options.nsPerInstruction ?? 10;
    this.slice = options.slice ?? 1_000_000;
    this.wakeGranularity = Math.max(1, Math.floor(this.slice / 10));
    const cpu = this.cpu = new Cpu({ ramSize: options.ramSize });
    cpu.engine = options.engine ?? 'blocks';
    this.frames = new FrameAllocator(cpu.mem, 0x100000, options.ramSize);
    this.host = this.enterRootMode();
    // No host x86 code ever runs: exits leave the guest on the processor until another VM's
    // VMPTRLD needs root operation (Vmx.deferHostState), so resuming the same VM loads little.
    cpu.vmx.deferHostState = true;
    if (options.fastExits !== false) {
      cpu.vmx.fastExit = (reason, qualification) => this.fastExit(reason, qualification);
      cpu.vmx.inlineExits = this;
    }
    // Every port exits (bitmaps all ones); MSRs exit except SYSENTER_CS/ESP/EIP (switched by the
    // VMCS) and TSC reads (TSC offsetting).
    this.ioBitmaps = [this.frames.allocate(PAGE), this.frames.allocate(PAGE)];
    for (const b of this.ioBitmaps) cpu.mem.u8.fill(0xff, b, b + PAGE);
    this.msrBitmap = this.frames.allocate(PAGE);
    cpu.mem.u8.fill(0xff, this.msrBitmap, this.msrBitmap + PAGE);
    const pass = (index: number, write: boolean) => {
      const at = this.msrBitmap + (write ? 2048 : 0) + (index >> 3);
      cpu.mem.write8(at, cpu.mem.read8(at) & ~(1 << (index & 7)));
    };
    for (const msr of [0x174, 0x175, 0x176]) { pass(msr, false); pass(msr, true); }
    pass(0x10, false);
  }

  /**
   * The host side: flat ring-0 protected mode with paging (identity 4 MiB pages over all RAM),
   * a GDT with code, data and a TSS, CR4.VMXE, IA32_FEATURE_CONTROL locked with VMX on, VMXON.
   */
  private enterRootMode(): HostState {
    const cpu = this.cpu, mem = cpu.mem;
    const gdt = this.frames.allocate(PAGE), tss = gdt + 0x100, idt = gdt + 0x800;
    mem.write32(gdt + 8, 0x0000ffff); mem.write32(gdt + 12, 0x00cf9b00);
    mem.write32(gdt + 16, 0x0000ffff); mem.write32(gdt + 20, 0x00cf9300);
    mem.write32(gdt + 24, ((tss & 0xffff) << 16) | 0x67);
    mem.write32(gdt + 28, (tss & 0xff000000) | 0x8b00 | ((tss >>> 16) & 0xff));
    const pd = this.frames.allocate(PAGE);
    for (let i = 0; i < 1024 && i * 0x400000 < mem.ramSize; i++) mem.write32(pd + i * 4, (i * 0x400000) | 0x83);
    enterFlatProtectedMode(cpu);
    cpu.gdtBase = gdt; cpu.gdtLimit = 31;
    cpu.idtBase = idt; cpu.idtLimit = 0;
    cpu.segSel[SegReg.TR] = 0x18; cpu.segBase[SegReg.TR] = tss; cpu.segLimit[SegReg.TR] = 0x67; cpu.segAttr[SegReg.TR] = 0x8b;
    cpu.mmu.cr3 = pd;
    cpu.mmu.cr4 = 0x10 | 0x2000;
    cpu.mmu.cr0 = 0x80000031;
    cpu.mmu.flush();
    writeMsr(cpu, 0x3a, 5n);
    const vmxon = this.frames.allocate(PAGE);
    mem.write32(vmxon, VMCS_REVISION);
    const status = cpu.vmx.vmxon(BigInt(vmxon));
    if (!status.ok) throw new Error(`VMXON failed: ${cpu.vmx.lastFailureDetail}`);
    return { cr0: cpu.mmu.cr0, cr3: pd, cr4: cpu.mmu.cr4, gdtBase: gdt, idtBase: idt, trBase: tss };
  }

  /** Host virtual time in ns. */
  now(): number {
    return this.nowWith(0);
  }

  /**
   * Host virtual time in ns with `pending` more instructions emulated than counted so far (inline
   * exits not yet added to `emulatedInstructions`, and the one being completed).
   */
  private nowWith(pending: number): number {
    return (this.cpu.icount + this.idleInstructions + this.emulatedInstructions + pending) * this.nsPerInstruction;
  }

  /** The host's TSC (guests add their TSC offset). */
  hostTsc(): bigint {
    return BigInt(this.cpu.icount) + this.cpu.tscOffset;
  }

  /** A new VM with its memory, EPT, devices and vCPU (not yet booted). */
  createVm(config: VmConfig): Vm {
    if (config.memory % PAGE !== 0 || config.memory < 0x200000) throw new RangeError(`VM '${config.name}': memory must be a multiple of 4 KiB, at least 2 MiB`);
    const vm = new Vm(this.vms.length, config, this.cpu.mem, this.frames, () => this.now());
    const vcpu = new Vcpu(vm, this.cpu, this.frames, this.host, this.ioBitmaps, this.msrBitmap);
    const status = this.cpu.vmx.vmclear(BigInt(vcpu.vmcs.address));
    if (!status.ok) throw new Error(`VMCLEAR failed: ${this.cpu.vmx.lastFailureDetail}`);
    this.vms.push(vm);
    this.vcpus.push(vcpu);
    this.scheduler.add(vcpu);
    return vm;
  }

  vcpuOf(vm: Vm): Vcpu {
    return this.vcpus[vm.id]!;
  }

  /**
   * Loads a Multiboot image into the VM's memory and puts its vCPU where a Multiboot loader
   * leaves the CPU. Throws ImageError (with the reason) for a bad image; nothing is loaded then.
   */
  bootMultiboot(vm: Vm, bytes: Uint8Array, cmdline = ''): void {
    const image = parseMultiboot(bytes);
    const info = buildBootInfo(image, vm.ram.size, cmdline);
    vm.ram.clear();
    for (const s of image.segments) vm.ram.load(s.address, s.data);
    for (const w of info.writes) vm.ram.load(w.address, w.data);
    vm.bootNs = this.now();
    vm.devices.pic.initializeLikeBios();
    const vcpu = this.vcpuOf(vm);
    vcpu.resetMultiboot(image.entry, MULTIBOOT_BOOTLOADER_MAGIC, info.address, -this.hostTsc());
    this.cpu.flushDecodeCache();
  }

  /** Boots a raw flat binary at `load`, entered at `entry` (Multiboot register state, EBX = 0). */
  bootRaw(vm: Vm, bytes: Uint8Array, load: number, entry: number): void {
    vm.ram.clear();
    vm.ram.load(load, bytes);
    vm.bootNs = this.now();
    vm.devices.pic.initializeLikeBios();
    this.vcpuOf(vm).resetMultiboot(entry, MULTIBOOT_BOOTLOADER_MAGIC, 0, -this.hostTsc());
    this.cpu.flushDecodeCache();
  }

  // ------------------------------------------------------------------ running

  /**
   * Guest instructions executed and emulated by all vCPUs so far. Exact also while a slice runs
   * (from a console sink, say): the instructions the vCPU's counts do not have yet are added,
   * those retired since they were last counted and the exits completed inline since the disarm.
   * The instruction whose exit is being handled is not in it yet.
   */
  get guestInstructions(): number {
    let n = 0;
    for (const v of this.vcpus) n += v.executed + v.emulated;
    const s = this.running;
    if (s === null) return n;
    // Armed, the vCPU's count of executed instructions stands at inlineCounted (disarmInline).
    const counted = this.inlineArmed === s ? s.inlineCounted : s.counted;
    return n + (this.cpu.icount - counted) + inlinePending(s);
  }

  /**
   * Runs the VMs until every one has stopped, or `maxInstructions` more guest instructions (all
   * VMs together) have run.
   */
  run(maxInstructions = Infinity): RunResult {
    const end = this.guestInstructions + maxInstructions;
    let stalledWakes = 0, lastCount = -1;
    for (;;) {
      const live = this.vcpus.filter((v) => v.vm.stop === null);
      if (live.length === 0) return { kind: 'all-stopped' };
      const done = this.guestInstructions;
      if (done >= end) return { kind: 'budget' };
      const runnable: Vcpu[] = [];
      for (const v of live) {
        if (v.halted) {
          // Only a sleeping VM needs its devices brought up to now here (to see whether it
          // wakes); one that runs is synced as its slice begins.
          v.vm.sync();
          const w = v.wakeable();
          if (w === 'never') { v.vm.halt({ kind: 'halted' }); continue; }
          if (w === 'later') continue;
          v.halted = false;
          this.scheduler.wake(v, live.filter((o) => !o.halted), this.wakeGranularity);
        }
        runnable.push(v);
      }
      if (runnable.length === 0) {
        if (!this.skipIdle(live)) continue;
        if (done === lastCount) {
          if (++stalledWakes > MAX_STALLED_WAKES) for (const v of live) v.vm.halt({ kind: 'halted' });
        } else stalledWakes = 0;
        lastCount = done;
        continue;
      }
      const vcpu = this.scheduler.pick(runnable)!;
      const budget = Math.min(this.slice, end - done);
      const ran = this.runVcpu(vcpu, budget);
      this.scheduler.charge(vcpu, ran);
      if (this.pauseRequested) {
        this.pauseRequested = false;
        return { kind: 'paused' };
      }
    }
  }

  /**
   * Every live vCPU is blocked: skip time to the earliest event of any VM. Returns false when no
   * VM has an event coming (they are all halted for good, and are stopped).
   */
  private skipIdle(live: readonly Vcpu[]): boolean {
    let earliest = Infinity;
    for (const v of live) earliest = Math.min(earliest, v.vm.bootNs + v.vm.nextDeadline());
    if (earliest === Infinity) {
      for (const v of live) v.vm.halt({ kind: 'halted' });
      return false;
    }
    const skip = Math.max(1, Math.ceil((earliest - this.now()) / this.nsPerInstruction));
    this.idleInstructions += skip;
    this.cpu.addTscOffset(skip);
    return true;
  }

  /**
   * Runs one vCPU for a slice of up to `budget`: its guest instructions plus EXIT_COST per exit.
   * Returns what it used of it, for the scheduler to charge.
   */
  private runVcpu(vcpu: Vcpu, budget: number): number {
    const cpu = this.cpu, vmx = cpu.vmx, vm = vcpu.vm;
    if (vmx.currentVmcs !== vcpu.vmcs.address && !vmx.vmptrld(BigInt(vcpu.vmcs.address)).ok) {
      vm.halt({ kind: 'crash', reason: `VMPTRLD failed: ${vmx.lastFailureDetail}` });
      return 0;
    }
    // When the first other VM sleeping with interrupts on is due to wake: its deadlines do not
    // move while this one runs (events this VM sends do not set deadlines), so once a slice.
    const ctx: ExitContext = { cpu, vm, vcpu, raw: null as unknown as VmExit, hostTsc: () => this.hostTsc() };
    const s: Slice = { vcpu, budget, ran: 0, counted: 0, otherWakesAt: this.otherWakesAt(vcpu), ctx, statReason: -1, stat: null, handled: null, cpuidStat: null, vmcallStat: null, ioStat: null, inlineCpuids: 0, inlineVmcalls: 0, inlineIos: 0, inlineCounted: 0, boundUntil: NaN, noInterruptPending: false };
    this.running = s;
    vm.ram.markWritten(); // the guest writes its memory directly, past GuestRam
    try {
      for (;;) {
        const timer = this.entryTimer(s);
        if (timer === 0) break;
        vcpu.prepareEntry();
        vcpu.vmcs.write(F.VMX_PREEMPTION_TIMER_VALUE, timer);
        s.counted = cpu.icount;
        vcpu.load(cpu);
        // Reading the clock costs 30-70 ns: see EXIT_TIMING_SAMPLE.
        const entryWeight = entryTimingWeight(vcpu.enterCalls++);
        vcpu.entries++;
        const t0 = entryWeight ? performance.now() : 0;
        const result = vmx.enter(!vcpu.launched, timer + 1);
        this.disarmInline(s);
        s.noInterruptPending = false;
        let t1 = entryWeight ? performance.now() : 0;
        if (entryWeight) vcpu.enterNs += (t1 - t0) * 1e6 * entryWeight;
        this.countExecuted(s);
        if (result.kind === 'fail') {
          vm.halt({ kind: 'crash', reason: `VM entry failed (VM-instruction error ${result.status.ok ? 0 : result.status.invalid ? 'invalid' : result.status.error}): ${vmx.lastFailureDetail}` });
          break;
        }
        vcpu.launched = true;
        if (result.kind !== 'exit') {
          vm.halt({ kind: 'crash', reason: `the guest stopped without a VM exit (${result.kind})` });
          break;
        }
        vcpu.save(cpu);
        if (s.handled !== null) {
          // The fast path completed this exit and left what follows to this loop.
          const action = s.handled;
          s.handled = null;
          if (action === 'stop' || vm.stop !== null || action === 'yield' || this.pauseRequested) break;
          continue;
        }
        ctx.raw = result.exit;
        const stat = vm.exitStat(result.exit.reason);
        const handlerWeight = timingWeight(stat.count - stat.inline); // inline ones are never timed
        stat.count++;
        if (handlerWeight && !entryWeight) t1 = performance.now();
        const emulatedBefore = vcpu.emulated;
        const decoded = decodeExit(result.exit);
        const action = handleExit(ctx, decoded);
        if (handlerWeight) stat.handlerNs += (performance.now() - t1) * 1e6 * handlerWeight; // decoding included
        this.chargeExit(s, vcpu.emulated - emulatedBefore);
        this.observer?.(vm, result.exit, decoded, action);
        if (action === 'stop' || vm.stop !== null || action === 'yield' && decoded.kind !== 'preemption-timer' || this.pauseRequested) break;
      }
    } finally {
      this.disarmInline(s);
      this.running = null;
    }
    return s.ran;
  }

  /** The slice being run (null between slices): what the fast exit path works on. */
  private running: Slice | null = null;

  /**
   * What the run loop does before each VM entry: brings the VM's devices up to now, and decides
   * whether the slice goes on. Returns the preemption timer for the entry (at least 1), or 0
   * when the slice ends here.
   */
  private entryTimer(s: Slice): number {
    const vcpu = s.vcpu, vm = vcpu.vm, now = this.now(), vmNow = now - vm.bootNs;
    const deadline = vm.settle(vmNow);
    if (vcpu.halted) {
      if (vcpu.wakeable() !== 'now') return 0;
      vcpu.halted = false;
    }
    return this.timerFor(s, s.ran, now, deadline - vmNow);
  }

  /**
   * The preemption timer for an entry at host time `now`, with `ran` of the slice used and the
   * VM's next event `untilDeadline` ns away; 0 when the slice ends here (entryTimer, fastTimer,
   * inlineTimer).
   */
  private timerFor(s: Slice, ran: number, now: number, untilDeadline: number): number {
    const left = s.budget - ran;
    if (left <= 0) return 0;
    // Another VM sleeping until an event that is due now: end the slice so that it can wake
    // (once this one has run its wake granularity).
    const untilWake = s.otherWakesAt === Infinity ? Infinity : Math.max(0, Math.ceil((s.otherWakesAt - now) / this.nsPerInstruction));
    if (untilWake <= 0 && ran >= this.wakeGranularity) return 0;
    const untilEvent = Math.ceil(untilDeadline / this.nsPerInstruction);
    return Math.max(1, Math.min(left, untilEvent, Math.max(untilWake, this.wakeGranularity - ran)));
  }

  /** Counts the guest instructions retired since the last count (entry or fast exit). */
  private countExecuted(s: Slice): void {
    const executed = this.cpu.icount - s.counted;
    s.counted = this.cpu.icount;
    s.vcpu.executed += executed;
    s.ran += executed;
  }

  /** After a handler: the instructions it emulated take time (one instruction each), and the exit its cost. */
  private chargeExit(s: Slice, emulated: number): void {
    if (emulated > 0) {
      this.emulatedInstructions += emulated;
      this.cpu.addTscOffset(emulated);
      s.ran += emulated;
    }
    s.ran += EXIT_COST; // charged to the slice and the scheduler, never to any clock
  }

  /**
   * The exit fast path (Vmx.fastExit), as KVM completes some exits before leaving its inner run
   * loop. Exits whose handling touches only registers, devices and guest memory
   * (exits/in-place.ts) are handled on the live registers, then counted, charged and timed
   * exactly as the run loop would do it. When the run loop would re-enter with nothing to inject,
   * the guest resumes without the VMCS round trip. Otherwise (an interrupt to inject, a halt, the
   * slice or the VM ending) the exit completes after the instruction and the loop takes over.
   * Anything watching exits (an observer, a pause) gets every exit the usual way.
   */
  private fastExit(reason: number, qualification: number): number {
    const s = this.running;
    if (s === null || this.observer !== null || this.pauseRequested) return FastExit.DECLINED;
    this.disarmInline(s);
    const cpu = this.cpu, vcpu = s.vcpu, vm = vcpu.vm;
    if (s.statReason !== reason) { s.stat = vm.exitStat(reason); s.statReason = reason; }
    const stat = s.stat!;
    const weight = timingWeight(stat.count - stat.inline);
    const t0 = weight ? performance.now() : 0;
    const emulatedBefore = vcpu.emulated;
    let quiet = s.noInterruptPending && inPlaceRaisesNoInterrupt(cpu.r, cpu.cpl, reason);
    s.noInterruptPending = false;
    const action = handleInPlace(s.ctx, cpu.r, cpu.cpl, reason, qualification);
    if (action === null) return FastExit.DECLINED;
    stat.count++;
    vcpu.emulated++; // the instruction the processor skips
    this.countExecuted(s);
    this.chargeExit(s, vcpu.emulated - emulatedBefore);
    let answer: number = FastExit.EXIT_AFTER;
    if (action === 'resume' && vm.stop === null && !vcpu.halted) {
      const syncs = vm.syncs;
      const timer = this.fastTimer(s);
      if (vm.syncs !== syncs) quiet = false;
      // The entry the run loop would make: nothing to inject, no interrupt window to close (the
      // controls the processor holds are the VMCS's: nothing was written since the entry).
      if (timer > 0 && !(cpu.vmx.proc & Proc.INTERRUPT_WINDOW_EXITING) && (quiet || !vm.hasPendingInterrupt())) {
        s.noInterruptPending = true;
        vcpu.entries++;
        stat.inPlace++;
        answer = timer + 1;
        // Until the guest's next exit of any kind, nothing this decision rests on changes but
        // the clock and the slice's count: CPUID and some VMCALLs can be completed inline.
        this.inlineArmed = s;
        s.inlineCounted = s.counted;
      }
    }
    if (answer < 0) s.handled = action;
    if (weight) {
      const ns = (performance.now() - t0) * 1e6 * weight;
      stat.handlerNs += ns;
      vcpu.fastHandlerNs += ns;
    }
    return answer;
  }

  /**
   * Exits completed inline (InlineExits, called by compiled blocks only): CPUID here, VMCALL
   * below. Armed by a fast exit that resumed the guest (`inlineArmed`) and disarmed when the
   * hypervisor next sees an exit (the fast path or the run loop). Completes the exit exactly as
   * `fastExit` would, with what the decision to resume rests on known unchanged since that fast
   * exit: no observer (set only between runs) or pause (the debugger's CPU hooks may ask for one,
   * and keep compiled blocks off while they do; checked anyway), the VM running and awake, no
   * interrupt pending or window open (only a device sync or an exit can change these), the
   * VMCS's controls. What remains is the clock: a device event due (the VM's quietUntil passed)
   * declines. Inline exits are counted but never timed (EXIT_TIMING_SAMPLE).
   *
   * Only what the guest or the next decision can see is done at once: the registers, the TSC
   * offset, the slice's count, the timer. The counts nobody reads while the guest runs (the exit
   * statistics, the vCPU's counts, `emulatedInstructions`, on which the hypervisor's clock rests)
   * are brought up to date at the disarm, before the hypervisor reads any of them. As on the
   * fast path, the timer goes to the processor directly (Vmx.resumeHeld), not through the VMCS:
   * the next exit saves what is left of it there (the exit controls save the timer).
   */
  inlineCpuid(): boolean {
    const s = this.inlineArmed;
    if (s === null || this.pauseRequested) return false;
    const timer = this.inlineTimer(s);
    if (timer === 0) return false;
    answerCpuid(this.cpu.r);
    s.inlineCpuids++;
    this.inlineResume(timer);
    return true;
  }

  /** VMCALL completed inline, as `inlineCpuid`, for the hypercalls that allow it (inlineHypercall). */
  inlineVmcall(): boolean {
    const s = this.inlineArmed;
    if (s === null || this.pauseRequested) return false;
    const cpu = this.cpu;
    if (!inlineHypercall(cpu.r[0]!, cpu.cpl)) return false;
    const timer = this.inlineTimer(s);
    if (timer === 0) return false;
    hypercall(s.ctx, cpu.r, cpu.cpl);
    s.inlineVmcalls++;
    this.inlineResume(timer);
    return true;
  }

  /**
   * IN completed inline, as `inlineCpuid`, when the device can answer the read quietly
   * (PortDevice.quietRead): it changes nothing, so neither the interrupt lines nor the VM's next
   * event need a look after it, and the devices need no sync before it (no event of theirs is
   * due, or the timer declines). The port is not looked up in the I/O bitmaps: this hypervisor's
   * are all ones, so every port access exits. Declined where the processor would consult the
   * TSS's I/O permission bitmap first: the executor does that check.
   */
  inlineIn(port: number, size: 1 | 2 | 4): boolean {
    const s = this.inlineArmed;
    if (s === null || this.pauseRequested) return false;
    const cpu = this.cpu;
    if (!cpu.ioPrivileged) return false;
    const vm = s.vcpu.vm;
    // The VM's time as the fast path's device access would read it (Vm.now, with the inline exits not yet counted).
    const now = this.nowWith(inlinePending(s)) - vm.bootNs;
    const value = vm.devices.ports.quietRead(port, size, now);
    if (value === QUIET_DECLINED) return false; // nothing read: the read changes nothing when quiet
    const timer = this.inlineTimer(s);
    if (timer === 0) return false;
    cpu.r[0] = mergeRegister(cpu.r[0]!, value, size);
    s.inlineIos++;
    this.inlineResume(timer);
    return true;
  }

  /**
   * OUT completed inline, as `inlineIn`, when the device can take the write quietly
   * (PortDevice.quietWrite). The write is the one step that can decline after the timer was
   * worked out: the slice's count is put back then.
   */
  inlineOut(port: number, size: 1 | 2 | 4): boolean {
    const s = this.inlineArmed;
    if (s === null || this.pauseRequested) return false;
    const cpu = this.cpu;
    if (!cpu.ioPrivileged) return false;
    const counted = s.counted, ran = s.ran;
    const timer = this.inlineTimer(s);
    if (timer === 0) return false;
    if (!s.vcpu.vm.devices.ports.quietWrite(port, size, cpu.r[0]!)) {
      s.counted = counted;
      s.ran = ran;
      return false;
    }
    s.inlineIos++;
    this.inlineResume(timer);
    return true;
  }

  /**
   * The preemption timer for the entry after one more inline exit. fastExit's accounting for it
   * (countExecuted, chargeExit for one emulated instruction) and its entryTimer are worked out
   * first, since a declined exit must leave everything as it was. 0 when the exit must go the
   * usual way, with nothing done: one the clock or the slice stops.
   * Otherwise the slice's count is taken: the caller's handler cannot fail.
   */
  private inlineTimer(s: Slice): number {
    const icount = this.cpu.icount;
    const ran = s.ran + (icount - s.counted) + 1 + EXIT_COST;
    let timer: number;
    if (s.vcpu.vm.quietUntil === s.boundUntil) {
      timer = s.budget - ran;
      if (timer <= 0) return 0;
    } else {
      timer = this.inlineClockTimer(s, ran);
      if (timer === 0) return 0;
    }
    // The exit goes ahead (its handler cannot fail): the slice's count is taken now.
    s.counted = icount;
    s.ran = ran;
    return timer;
  }

  /**
   * inlineTimer while the slice's end is not known to bind: entryTimer's answer from the clock
   * (now, with the slice `ran` used after the exit), 0 when an event is due. Kept out
   * of inlineTimer so that the inline path is small enough for V8 to inline it whole into the
   * compiled block that calls it (its inlining budget is counted in bytecode, taken or not).
   */
  private inlineClockTimer(s: Slice, ran: number): number {
    const vm = s.vcpu.vm;
    const now = this.nowWith(inlinePending(s) + 1);
    const vmNow = now - vm.bootNs, deadline = vm.quietUntil;
    if (!(vmNow < deadline)) return 0; // due: the devices need a sync (Vm.quietDeadline)
    const timer = this.timerFor(s, ran, now, deadline - vmNow);
    if (timer !== 0 && this.sliceBindsTimer(s, ran, deadline, vmNow)) s.boundUntil = deadline;
    return timer;
  }

  /** After an inline exit's handler: the guest's TSC, the entry with `timer`. */
  private inlineResume(timer: number): void {
    const cpu = this.cpu;
    cpu.addTscOffset(1);
    cpu.vmx.resumeHeld(timer, timer + 1);
  }

  /**
   * entryTimer on the fast path: the same answer, with the devices synced only when an event is
   * due (Vm.quietDeadline), and none of it worked out while the slice's end is known to bind.
   */
  private fastTimer(s: Slice): number {
    const vm = s.vcpu.vm;
    // A deadline port I/O made the VM forget is found again first: most accesses leave it be.
    if (vm.knownDeadline() === s.boundUntil) {
      const left = s.budget - s.ran;
      return left > 0 ? left : 0;
    }
    const now = this.now(), vmNow = now - vm.bootNs;
    const deadline = vm.quietDeadline(vmNow);
    const timer = this.timerFor(s, s.ran, now, deadline - vmNow);
    if (timer > 0 && timer === s.budget - s.ran && this.sliceBindsTimer(s, s.ran, deadline, vmNow)) s.boundUntil = deadline;
    return timer;
  }

  /**
   * Whether, from an entry with the slice `ran` used at VM time `vmNow` and the VM's next event
   * at `deadline`, entryTimer's answer stays the slice's remainder (budget - ran) at every later
   * exit of the slice while that deadline stands, so that it need not be worked out. So when no
   * other VM waits to wake and the event is at least 3 instructions further than the slice's end.
   * Time then passes by the instructions run and emulated, and the slice is charged those and
   * EXIT_COST per exit besides: its end nears at least as fast as the event, which stays after
   * it. ceil(x / n), with x exact (an integer subtracted from a deadline below 2^52 ns) and the
   * quotient rounded, is at most 1 from the exact result, each time, so 3 covers this answer's
   * error and a later one's.
   */
  private sliceBindsTimer(s: Slice, ran: number, deadline: number, vmNow: number): boolean {
    if (s.otherWakesAt !== Infinity) return false;
    if (deadline === Infinity) return true;
    return deadline < 2 ** 52 && Math.ceil((deadline - vmNow) / this.nsPerInstruction) >= s.budget - ran + 3;
  }

  /** The slice whose guest may have exits completed inline (null: none). */
  private inlineArmed: Slice | null = null;

  /** The hypervisor sees an exit (or the slice ends): inline exits stop, and their counts are added. */
  private disarmInline(s: Slice): void {
    this.inlineArmed = null;
    const cpuids = s.inlineCpuids, vmcalls = s.inlineVmcalls, ios = s.inlineIos, k = cpuids + vmcalls + ios;
    if (k === 0) return;
    s.inlineCpuids = s.inlineVmcalls = s.inlineIos = 0;
    const vm = s.vcpu.vm;
    if (cpuids) countInline(s.cpuidStat ?? (s.cpuidStat = vm.exitStat(ExitReason.CPUID)), cpuids);
    if (vmcalls) countInline(s.vmcallStat ?? (s.vmcallStat = vm.exitStat(ExitReason.VMCALL)), vmcalls);
    if (ios) countInline(s.ioStat ?? (s.ioStat = vm.exitStat(ExitReason.IO_INSTRUCTION)), ios);
    const vcpu = s.vcpu;
    vcpu.emulated += k;
    vcpu.entries += k;
    vcpu.executed += s.counted - s.inlineCounted;
    this.emulatedInstructions += k;
  }

  /**
   * The host time of the earliest device or PV-timer event of another vCPU that sleeps (HLT or
   * BLOCK) with interrupts on (Infinity when none sleeps so).
   */
  private otherWakesAt(running: Vcpu): number {
    let earliest = Infinity;
    for (const v of this.vcpus) {
      if (v === running || !v.halted || v.vm.stop !== null || v.wakeable() === 'never') continue;
      earliest = Math.min(earliest, v.vm.bootNs + v.vm.nextDeadline());
    }
    return earliest;
  }

  /** Why each VM stopped (null while it runs). */
  stops(): (VmStop | null)[] {
    return this.vms.map((vm) => vm.stop);
  }
}

/**
 * Hostile guests (guests/hostile/, every variant in HOSTILE_IMAGES) under the hypervisor, each on
 * the one CPU beside the well-behaved neighbour (guests/hostile/neighbour.asm). For every one:
 * the hypervisor never throws; the neighbour prints exactly what it prints alone, ends with every
 * byte of its memory as alone, and finishes within twice its time alone (plus two slices and its
 * exits' cost); host memory that no VM owns is untouched; and the hostile VM ends as expected,
 * either stopped with the hypervisor's report of why, or contained: still running when the
 * neighbour is done.
 */
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ExitReason } from '../../emulator/vmx/controls.js';
import { EXIT_COST, Hypervisor } from '../../hypervisor/hypervisor.js';
import { runVms } from '../../hypervisor/cli/run.js';
import { ExitCode } from '../../hypervisor/cli/exit-codes.js';
import type { Vm } from '../../hypervisor/vm.js';
import { assembleGuest, GUEST_IMAGES, HOSTILE_IMAGES, ROOT, type GuestImage } from '../../scripts/guest-images.js';
import { parseTap } from '../kernels/run-kernel.js';

const MEMORY = 4 << 20;
const SLICE = 20_000;
/** hv.run() is called in chunks of this many guest instructions until the neighbour is done. */
const CHUNK = 50_000;
/** Guest instructions (both VMs) by which the neighbour must be done. */
const LIMIT = 4_000_000;

const NEIGHBOUR = GUEST_IMAGES.find((g) => g.image === 'guests/hostile/neighbour.img')!;
const binaries = new Map<GuestImage, Uint8Array>();
const binary = (g: GuestImage): Uint8Array => {
  let b = binaries.get(g);
  if (!b) binaries.set(g, b = assembleGuest(g).binary);
  return b;
};

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const instructions = (hv: Hypervisor, vm: Vm): number => { const v = hv.vcpuOf(vm); return v.executed + v.emulated; };
const exits = (vm: Vm, reason: number): number => vm.exitStats.get(reason)?.count ?? 0;

/** Host memory no VM owns: below the frame allocator's first frame, and above its last. */
function unownedHostMemory(hv: Hypervisor): string {
  const u8 = hv.cpu.mem.u8;
  return sha(u8.subarray(0, 0x100000)) + sha(u8.subarray(hv.frames.used, hv.cpu.mem.ramSize));
}

interface Run {
  hv: Hypervisor;
  /** The first hostile VM; `hostiles` has them all, `texts` every VM's console. */
  hostile: Vm;
  hostiles: Vm[];
  neighbour: Vm;
  out: { hostile: string; neighbour: string };
  texts: string[];
  /** The neighbour's VM time (ns) when it stopped. */
  neighbourDoneNs: number;
}

/**
 * Boots `guests` (the neighbour last) and runs them until the neighbour stops (`untilAllStop`:
 * until every VM has stopped) or LIMIT passes.
 */
function run(guests: readonly GuestImage[], untilAllStop = false, engine: 'blocks' | 'interpret' = 'blocks'): Run & { before: string } {
  const hv = new Hypervisor({ ramSize: guests.length * (MEMORY + (2 << 20)) + (8 << 20), slice: SLICE, engine });
  const texts = guests.map(() => '');
  const vms = guests.map((g, i) => hv.createVm({ name: i === guests.length - 1 ? 'neighbour' : 'hostile', memory: MEMORY,
    console: (b) => { texts[i] += Buffer.from(b).toString('latin1'); } }));
  guests.forEach((g, i) => hv.bootMultiboot(vms[i]!, binary(g)));
  const before = unownedHostMemory(hv);
  const neighbour = vms[vms.length - 1]!;
  let neighbourDoneNs = NaN;
  hv.observer = (vm) => {
    if (vm === neighbour && vm.stop !== null && Number.isNaN(neighbourDoneNs)) neighbourDoneNs = vm.now();
  };
  const running = () => (untilAllStop ? vms.some((vm) => vm.stop === null) : neighbour.stop === null);
  while (running() && hv.guestInstructions < LIMIT) {
    if (hv.run(CHUNK).kind === 'all-stopped') break;
  }
  const out = { hostile: texts[0]!, neighbour: texts[texts.length - 1]! };
  return { hv, hostile: vms[0]!, hostiles: vms.slice(0, -1), neighbour, out, texts, neighbourDoneNs, before };
}

/**
 * The neighbour printed and kept exactly what it does alone, and had its share of the CPU: with n
 * VMs, n times its time alone at most, plus two slices and what its own exits cost it. Host
 * memory no VM owns is as it was.
 */
function expectNeighbourUnharmed(r: Run & { before: string }): void {
  const a = neighbourAlone(), n = r.hostiles.length + 1;
  expect(r.out.neighbour).toBe(a.out);
  expect(r.neighbour.stop).toEqual({ kind: 'exit', status: 1 });
  expect(sha(r.neighbour.ram.view())).toBe(a.memory);
  expect(r.neighbourDoneNs).toBeLessThanOrEqual(n * a.doneNs + (2 * SLICE + EXIT_COST * r.neighbour.totalExits) * r.hv.nsPerInstruction);
  expect(unownedHostMemory(r.hv)).toBe(r.before);
  // What FrameAllocator hands out next must still be zero: it does not zero it again.
  expect(r.hv.frames.unusedIsZero()).toBe(true);
}

/**
 * Random code in ring 0 may end its VM any way the hardware allows, or spin on with interrupts
 * off; never in a way that means a hypervisor bug (an exit it cannot handle, a failed entry, an
 * EPT misconfiguration, a JavaScript error).
 */
function expectAcceptableEnd(vm: Vm): void {
  const s = vm.stop;
  if (s === null || s.kind === 'triple-fault' || s.kind === 'halted' || s.kind === 'exit') return;
  expect(s.kind).toBe('crash');
  if (s.kind === 'crash') expect(s.reason).toMatch(/outside the VM's memory$|^MMIO |^string I\/O on port/);
}

let alone: { out: string; memory: string; doneNs: number; instructions: number } | null = null;
function neighbourAlone() {
  if (!alone) {
    const r = run([NEIGHBOUR]);
    alone = { out: r.out.neighbour, memory: sha(r.neighbour.ram.view()), doneNs: r.neighbourDoneNs, instructions: instructions(r.hv, r.neighbour) };
  }
  return alone;
}

/** The guest's TAP report passed (self-checking hostile guests). */
function expectTapPassed(text: string): void {
  const tap = parseTap(text);
  expect(tap.failed, text).toEqual([]);
  expect(tap.bailOut, text).toBeNull();
  expect(tap.plan, text).toBe(tap.passed.length);
  expect(tap.passed.length).toBeGreaterThan(10);
}

const outside = (access: string, gpa: string, linear: string) =>
  ({ kind: 'crash', reason: `${access} of guest-physical ${gpa} (linear ${linear}), outside the VM's memory` });

/** Hostile images that never stop by themselves: each run ends when the neighbour is done. */
const RUNS_FOREVER = new Set(['loop', 'random-ring0', 'storm', 'storm-screaming', 'storm-pic', 'storm-int', 'storm-pv'].map((n) => `guests/hostile/${n}.img`));

/** What each hostile image must come to; every image in HOSTILE_IMAGES has an entry. */
const EXPECTED: Record<string, (r: Run) => void> = {
  'guests/hostile/memory.img': (r) => {
    expect(r.out.hostile).toContain('filled, pages reading back the pattern: 768\n');
    expect(r.hostile.stop).toEqual(outside('write', '0x400000', '0x400000'));
  },
  'guests/hostile/memory-straddle.img': (r) => expect(r.hostile.stop).toEqual(outside('write', '0x400000', '0x400000')),
  'guests/hostile/memory-top.img': (r) => expect(r.hostile.stop).toEqual(outside('write', '0xfffffffc', '0xfffffffc')),
  'guests/hostile/memory-mmio-straddle.img': (r) => expect(r.hostile.stop).toEqual({ kind: 'crash',
    reason: "MMIO write at guest-physical 0xfe000ffe: a 4-byte access runs past the device's range into unbacked guest-physical 0xfe001001" }),
  'guests/hostile/memory-mmio-add.img': (r) => expect(r.hostile.stop).toEqual({
    kind: 'crash', reason: 'MMIO read at guest-physical 0xfe000000: ADD is not a load or store the hypervisor emulates' }),
  'guests/hostile/memory-mmio-stos.img': (r) => expect(r.hostile.stop).toEqual({
    kind: 'crash', reason: 'MMIO write at guest-physical 0xfe000000: STOSD is not a load or store the hypervisor emulates' }),
  'guests/hostile/pagetables.img': (r) => {
    // A store through a PTE aliasing the MMIO UART reaches the UART; the hypervisor's own page
    // walk (for REP OUTSB) meets a page table outside memory and injects #PF, as KVM's does.
    expect(r.out.hostile).toContain('through it\n!\n');
    expect(r.out.hostile).toContain('the guest saw vector 14, CR2 0x00c00000\n');
    expect(r.hostile.stop).toEqual(outside('write', '0x400000', '0x801000'));
  },
  'guests/hostile/pagetables-pde.img': (r) => expect(r.hostile.stop).toEqual(outside('read', '0x400000', '0xc00000')),
  'guests/hostile/pagetables-cr3.img': (r) => expect(r.hostile.stop).toMatchObject({ kind: 'crash', reason: expect.stringMatching(/^read of guest-physical 0xf0000000 \(linear 0x[0-9a-f]+\), outside/) }),
  'guests/hostile/pagetables-pse.img': (r) => expect(r.hostile.stop).toEqual(outside('read', '0xc0000000', '0xc00000')),
  'guests/hostile/pagetables-insb.img': (r) => expect(r.hostile.stop).toEqual({
    kind: 'crash', reason: 'string I/O on port 0x3f8 touched guest-physical 0x400000, outside guest memory' }),
  'guests/hostile/vmx.img': (r) => {
    expectTapPassed(r.out.hostile);
    expect(r.hostile.stop).toEqual({ kind: 'exit', status: 1 });
  },
  'guests/hostile/hypercalls.img': (r) => {
    expectTapPassed(r.out.hostile);
    expect(r.out.hostile).toContain('hostile hypercalls: a good CONSOLE_WRITE\n');
    expect(r.out.hostile).not.toContain('written by ring 3');
    expect(r.hostile.stop).toEqual({ kind: 'exit', status: 1 });
  },
  'guests/hostile/loop.img': (r) => {
    expect(r.hostile.stop).toBeNull();
    // It had the CPU whenever the neighbour did not want it: at least as much as the neighbour.
    expect(instructions(r.hv, r.hostile)).toBeGreaterThan(instructions(r.hv, r.neighbour));
  },
  'guests/hostile/loop-halt.img': (r) => expect(r.hostile.stop).toEqual({ kind: 'halted' }),
  'guests/hostile/triple.img': (r) => expect(r.hostile.stop).toEqual({ kind: 'triple-fault' }),
  'guests/hostile/ports.img': (r) => {
    expect(r.out.hostile).toMatch(/^hostile ports: 28088 INs and 28081 OUTs covered every port; REP INS and REP OUTS on 1024 ports$/m);
    expect(exits(r.hostile, ExitReason.IO_INSTRUCTION)).toBeGreaterThan(28_088 + 28_081 + 2 * 1024);
    expect(r.hostile.stop).toEqual({ kind: 'exit', status: 1 });
  },
  'guests/hostile/ports-every.img': (r) => {
    expect(exits(r.hostile, ExitReason.IO_INSTRUCTION)).toBeGreaterThan(28_081);
    expect(r.hostile.stop).toEqual({ kind: 'exit', status: (0x5a << 1) | 1 });
  },
  'guests/hostile/smc.img': (r) => {
    expectTapPassed(r.out.hostile);
    expect(r.hostile.stop).toEqual({ kind: 'exit', status: 1 });
  },
  'guests/hostile/random.img': (r) => {
    expect(r.out.hostile).toMatch(/^hostile random: 500 rounds; by vector \(32: 32-255\)( \d+:\d+)+, timeouts \d+$/m);
    expect(r.hostile.stop).toEqual({ kind: 'exit', status: 1 });
    // Ring 3 met the hypervisor: CPUID, VMCALL (-EPERM: nothing of it reached the console) and
    // VMX instructions (#UD), and survived every one.
    expect(exits(r.hostile, ExitReason.VMCALL)).toBeGreaterThan(0);
    expect(exits(r.hostile, ExitReason.CPUID)).toBeGreaterThan(0);
    expect(exits(r.hostile, ExitReason.VMPTRLD) + exits(r.hostile, ExitReason.VMREAD)).toBeGreaterThan(0);
    expect(r.out.hostile.split('\n').filter((l) => l !== '')).toHaveLength(2);
  },
  'guests/hostile/random-ring0.img': (r) => {
    expect(r.out.hostile).toMatch(/^hostile random: random bytes as code in ring 0, seed 1\n/);
    expectAcceptableEnd(r.hostile);
  },
  // Storms never end by themselves: contained, having made the hypervisor work hard.
  'guests/hostile/storm.img': (r) => {
    expect(r.hostile.stop).toBeNull();
    expect(exits(r.hostile, ExitReason.PREEMPTION_TIMER)).toBeGreaterThan(200); // entries cut at PIT edges
    expect(exits(r.hostile, ExitReason.IO_INSTRUCTION)).toBeGreaterThan(500); // the EOIs
  },
  'guests/hostile/storm-screaming.img': (r) => {
    expect(r.hostile.stop).toBeNull();
    // Every IRET opens the window for the next interrupt at once: the main loop never runs again.
    expect(r.out.hostile).toBe('hostile storm: level-triggered IRQ4 from the UART, never serviced\n');
    expect(exits(r.hostile, ExitReason.INTERRUPT_WINDOW)).toBeGreaterThan(5000);
  },
  'guests/hostile/storm-pic.img': (r) => {
    expect(r.hostile.stop).toBeNull();
    expect(exits(r.hostile, ExitReason.IO_INSTRUCTION)).toBeGreaterThan(2000);
  },
  'guests/hostile/storm-int.img': (r) => {
    expect(r.hostile.stop).toBeNull();
    expect(r.out.hostile).toMatch(/^hostile storm: \d+ interrupts$/m);
  },
  'guests/hostile/storm-pv.img': (r) => {
    expect(r.hostile.stop).toBeNull();
    expect(exits(r.hostile, ExitReason.VMCALL)).toBeGreaterThan(5000);
  },
};

describe('hostile guests beside a well-behaved one', () => {
  test('every hostile source is built, and every image has an expected outcome', () => {
    const sources = readdirSync(join(ROOT, 'guests', 'hostile')).filter((f) => f.endsWith('.asm') && f !== 'neighbour.asm');
    expect(new Set(HOSTILE_IMAGES.map((g) => g.source.replace('guests/hostile/', '')))).toEqual(new Set(sources));
    expect(HOSTILE_IMAGES.map((g) => g.image).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  test('the neighbour alone: its output, and a run long enough to share', () => {
    const a = neighbourAlone();
    expect(a.out).toBe('neighbour: 1900 primes below 16384\nneighbour: 3 timer ticks, done\n');
    expect(a.instructions).toBeGreaterThan(150_000);
  });

  for (const guest of HOSTILE_IMAGES) {
    test(`${guest.image.replace('guests/hostile/', '')}: ${guest.what}`, () => {
      const r = run([guest, NEIGHBOUR], !RUNS_FOREVER.has(guest.image));
      expectNeighbourUnharmed(r);
      EXPECTED[guest.image]!(r);
    });
  }

  test('four more seeds of random-ring0 at once, beside the neighbour: whatever each does, it ends alone', () => {
    const seeds = [2, 3, 4, 5].map((seed) => ({ ...HOSTILE_IMAGES.find((g) => g.image === 'guests/hostile/random-ring0.img')!,
      image: `random-ring0 seed ${seed}`, defines: { RING0: '1', SEED: String(seed) } }));
    const r = run([...seeds, NEIGHBOUR]);
    expectNeighbourUnharmed(r);
    r.hostiles.forEach((vm, i) => {
      expect(r.texts[i]).toMatch(new RegExp(`^hostile random: random bytes as code in ring 0, seed ${i + 2}\n`));
      expectAcceptableEnd(vm);
    });
    // They were hostile enough to need the hypervisor: exits of many kinds among them.
    const reasons = new Set(r.hostiles.flatMap((vm) => [...vm.exitStats.keys()]));
    expect(reasons.size).toBeGreaterThan(6);
  });

  test('smc.img on the interpreter tier too: its decoded-instruction cache goes stale the same ways', () => {
    const r = run([HOSTILE_IMAGES.find((g) => g.image === 'guests/hostile/smc.img')!, NEIGHBOUR], true, 'interpret');
    expect(r.out.neighbour).toBe(neighbourAlone().out);
    EXPECTED['guests/hostile/smc.img']!(r);
  });

  test('trapvisor run reports how each VM ended', async () => {
    let stderr = '';
    const io = { stdout: () => {}, stderr: (t: string) => { stderr += t; }, stdin: null };
    const code = await runVms([join(ROOT, 'guests/hostile/triple.asm'), join(ROOT, 'guests/hostile/memory.asm'), join(ROOT, NEIGHBOUR.source)],
      { mem: '4M', cmdline: '', engine: 'blocks', include: [] }, io);
    expect(code).toBe(ExitCode.GUEST_CRASHED);
    expect(stderr).toMatch(/^triple +1 +\d+ +[\d.]+% +\d+ +triple fault$/m);
    expect(stderr).toMatch(/^memory +1 +\d+ +[\d.]+% +\d+ +stopped: write of guest-physical 0x400000 \(linear 0x400000\), outside the VM's memory$/m);
    expect(stderr).toMatch(/^neighbour +1 +\d+ +[\d.]+% +\d+ +exited with status 1$/m);
  });
});

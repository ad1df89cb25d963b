/**
 * The multitasking guest kernel (guests/kernel/) on the bare machine, through both CPU engines:
 * the full-virtualized build runs all its tasks to the final report and powers off with status 0;
 * the paravirtualized build finds no hypervisor in CPUID, says so, and stops.
 */
import { describe, expect, it } from 'vitest';
import { formatCpuReport } from '../../hypervisor/cli/report.js';
import { bootBare, ENGINES, type Engine, guestBinary, parseReport, type GuestRun } from './boot-guest.js';

const runs = new Map<string, GuestRun>();
/** One boot per image and engine, shared by the tests below. */
function boot(image: string, engine: Engine): GuestRun {
  const key = `${image} ${engine}`;
  let run = runs.get(key);
  if (!run) { run = bootBare(guestBinary(image), engine); runs.set(key, run); }
  return run;
}

function context(run: GuestRun): string {
  return `${run.serial}\nstop: ${JSON.stringify(run.stop)} after ${run.instructions} instructions\n${formatCpuReport(run.machine.cpu).join('\n')}`;
}

/** isa-debug-exit status for exit code n. */
const status = (n: number): number => (n << 1) | 1;

describe('guests/fv/kernel.img on the bare machine', () => {
  for (const engine of ENGINES) {
    it(`runs every task to the report (${engine})`, () => {
      const run = boot('guests/fv/kernel.img', engine);
      const why = context(run);
      expect(run.stop, why).toEqual({ kind: 'exit', status: status(0) });
      // Well inside the budget the tests can afford.
      expect(run.instructions, why).toBeLessThan(20_000_000);

      expect(run.serial, why).toMatch(/^trapvisor kernel: full virtualization/);
      const report = parseReport(run.serial);
      expect(report, why).not.toBeNull();
      expect(report!.mode).toMatch(/^full virtualization \(16550 UART, 8254 PIT, 8259 PIC/);
      expect(Object.fromEntries(report!.tasks)).toEqual({
        primes: 'exited 0, 5133 primes below 50000',
        heap: 'exited 0, checksum 0xbe1998b5 over 16 demand-zero pages',
        clock: 'exited 0, 5 naps, clock monotonic and naps long enough',
        rowrite: 'killed (write to a read-only page at 0x00400000)',
        snoop: 'killed (access to a supervisor page at 0xc0100000)',
      });
      expect(report!.lines).toContain('tasks: 5, exited 3, killed 2; demand-zero pages 21');
      // Every SYS_WRITE came by SYSENTER (the CPU reports SEP), everything else by INT 0x80.
      expect(report!.lines).toContain('system calls: 26 by int 0x80, 18 by sysenter');
      expect(report!.verdict).toBe('every task ended as expected');

      // Every task ran in ring 3 and printed its progress through SYS_WRITE.
      for (const line of ['primes: 1229 below 10000', 'primes: 5133 below 50000', 'heap: 16 demand-zero pages read as zeros: yes',
        'heap: round 4 checksum be1998b5', 'clock: nap 5 of 5 done', 'clock: 5 naps of 3 ticks, every one long enough: yes',
        'rowrite: writing to my read-only code page at 0x00400000', 'snoop: reading kernel memory at 0xc0100000']) {
        expect(run.serial, why).toContain(line + '\n');
      }
      // The faulting tasks were killed with the exception's details; the kernel went on.
      expect(run.serial).toContain('[kernel] task 4 (rowrite) killed: write to a read-only page at 0x00400000\n'
        + '[kernel]   exception 14 (#PF page fault) error 0x00000007 at 001b:');
      expect(run.serial).toContain('[kernel] task 5 (snoop) killed: access to a supervisor page at 0xc0100000\n'
        + '[kernel]   exception 14 (#PF page fault) error 0x00000005 at 001b:');
      expect(run.serial).not.toContain('the write went through');
      expect(run.serial).not.toContain('from the kernel!');

      // The timer preempted the CPU-bound task; the idle task slept through the naps.
      const timing = /\ntiming: (\d+) ticks \(idle (\d+)\), (\d+) ms, (\d+) context switches, (\d+) preemptions, ticks by task: primes (\d+) /.exec(run.serial);
      expect(timing, why).not.toBeNull();
      const [ticks, idle, ms, , preemptions, primesTicks] = timing!.slice(1).map(Number) as [number, number, number, number, number, number];
      expect(preemptions).toBeGreaterThan(0);
      expect(primesTicks).toBeGreaterThanOrEqual(3);
      expect(idle).toBeGreaterThan(0);
      expect(ms).toBeGreaterThanOrEqual(ticks * 10);
      expect(ms).toBeLessThan((ticks + 1) * 10);
    });
  }

  it('prints the same report through both engines, and the same output', () => {
    const a = boot('guests/fv/kernel.img', 'blocks');
    const b = boot('guests/fv/kernel.img', 'interpret');
    expect(a.serial).toBe(b.serial);
    expect(a.instructions).toBe(b.instructions);
  });
});

describe('guests/fv/kernel.img with too little memory', () => {
  it('says how much it needs and stops with status 3', () => {
    const run = bootBare(guestBinary('guests/fv/kernel.img'), 'blocks', 1_000_000, 4 << 20);
    expect(run.stop, context(run)).toEqual({ kind: 'exit', status: status(1) });
    expect(run.serial).toContain('[kernel] this kernel needs 8192 KiB of memory; the machine has 4096 KiB\n');
  });
});

describe('guests/pv/kernel.img on the bare machine (no hypervisor)', () => {
  for (const engine of ENGINES) {
    it(`says it needs the hypervisor and stops with status 5 (${engine})`, () => {
      const run = bootBare(guestBinary('guests/pv/kernel.img'), engine);
      expect(run.stop, context(run)).toEqual({ kind: 'exit', status: status(2) });
      expect(run.serial).toMatch(/^trapvisor kernel \(paravirtualized build\): no hypervisor found\.\n/);
      expect(run.serial).toContain('Run it under the hypervisor (trapvisor boot guests/pv/kernel.img)');
      expect(run.instructions).toBeLessThan(100_000);
    });
  }
});

describe('guests/hello', () => {
  for (const engine of ENGINES) {
    it(`fv.img prints its line and exits with status 1 (${engine})`, () => {
      const run = bootBare(guestBinary('guests/hello/fv.img'), engine);
      expect(run.stop).toEqual({ kind: 'exit', status: status(0) });
      expect(run.serial).toBe('Hello from a full-virtualized guest: every byte is an OUT to the UART.\n');
    });
  }
  it('pv.img assembles to a Multiboot image that makes two hypercalls', () => {
    const bin = guestBinary('guests/hello/pv.img');
    expect(bin.length).toBeLessThan(256);
    const vmcalls = [...bin].filter((b, i) => b === 0x0f && bin[i + 1] === 0x01 && bin[i + 2] === 0xc1).length;
    expect(vmcalls).toBe(2);
  });
});

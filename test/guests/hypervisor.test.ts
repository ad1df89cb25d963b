/**
 * Both kernel builds and both hello guests under the hypervisor (`trapvisor boot IMAGE`): the same
 * report from the FV and the PV kernel but for the mode line, and the PV build asking by
 * hypercall where the FV build traps on every port access.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBoot, type BootOptions } from '../../hypervisor/cli/boot.js';
import { guestBinary, parseReport } from './boot-guest.js';

const dir = mkdtempSync(join(tmpdir(), 'tv-guests-hv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const OPTIONS: BootOptions = { bare: false, mem: '16M', cmdline: '', engine: 'blocks', include: [], stats: true, maxInstructions: '40000000' };

interface HvRun { code: number; stdout: string; stderr: string; exits: Map<string, number>; total: number }
const runs = new Map<string, Promise<HvRun>>();

/** Boots one image under the hypervisor (once per image), with the exit statistics. */
function boot(image: string): Promise<HvRun> {
  let run = runs.get(image);
  if (!run) {
    run = (async () => {
      const path = join(dir, image.replace(/\//g, '_'));
      writeFileSync(path, guestBinary(image));
      let stdout = '', stderr = '';
      const code = await runBoot(path, OPTIONS, {
        stdout: (b) => { stdout += Buffer.from(b).toString('latin1'); },
        stderr: (t) => { stderr += t; },
        stdin: null,
      });
      const exits = new Map<string, number>();
      for (const m of stderr.matchAll(/^ {2}([A-Z_]+) +(\d+) /gm)) exits.set(m[1]!, Number(m[2]));
      const total = Number(/VM exits of \S+: (\d+)/.exec(stderr)?.[1] ?? NaN);
      return { code, stdout, stderr, exits, total };
    })();
    runs.set(image, run);
  }
  return run;
}

describe('guests under the hypervisor', () => {
  it('hello: FV by OUTs, PV by one CONSOLE_WRITE', async () => {
    const fv = await boot('guests/hello/fv.img');
    const pv = await boot('guests/hello/pv.img');
    expect(fv.code, fv.stderr).toBe(1);
    expect(pv.code, pv.stderr).toBe(1);
    expect(fv.stdout).toBe('Hello from a full-virtualized guest: every byte is an OUT to the UART.\n');
    expect(pv.stdout).toBe('Hello from a paravirtualized guest: the whole line is one VMCALL.\n');
    expect(pv.exits.get('VMCALL')).toBe(2);
    expect(pv.exits.get('IO_INSTRUCTION') ?? 0).toBe(0);
    expect(fv.exits.get('IO_INSTRUCTION')).toBe(fv.stdout.length + 1);
  });

  it('the FV and PV kernels print the same report but for the mode line', async () => {
    const fv = await boot('guests/fv/kernel.img');
    const pv = await boot('guests/pv/kernel.img');
    expect(fv.code, fv.stdout + fv.stderr).toBe(1);
    expect(pv.code, pv.stdout + pv.stderr).toBe(1);
    const a = parseReport(fv.stdout), b = parseReport(pv.stdout);
    expect(a, fv.stdout).not.toBeNull();
    expect(b, pv.stdout).not.toBeNull();
    expect(a!.mode).toMatch(/^full virtualization/);
    expect(b!.mode).toMatch(/^paravirtualized/);
    expect(b!.lines).toEqual(a!.lines);
    expect(a!.verdict).toBe('every task ended as expected');
    expect(a!.tasks.get('primes')).toBe('exited 0, 5133 primes below 50000');
    expect(a!.tasks.get('rowrite')).toBe('killed (write to a read-only page at 0x00400000)');
  });

  it('the PV kernel makes no port accesses and far fewer exits than the FV kernel', async () => {
    const fv = await boot('guests/fv/kernel.img');
    const pv = await boot('guests/pv/kernel.img');
    const io = (r: HvRun) => r.exits.get('IO_INSTRUCTION') ?? 0;
    expect(io(pv)).toBe(0);
    expect(io(fv)).toBeGreaterThan(1000);            // a UART byte each, PIT and PIC programming, EOIs
    expect(pv.exits.get('VMCALL')).toBeGreaterThan(50);
    expect(pv.total * 10).toBeLessThan(fv.total);
  });
});

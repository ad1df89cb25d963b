/**
 * `trapvisor boot IMAGE` (under the hypervisor) and `trapvisor run A B ...`: console, exit codes,
 * exit statistics and traces, several VMs with prefixed consoles or console files, bad input.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBoot, type BootOptions } from '../hypervisor/cli/boot.js';
import { UserError } from '../hypervisor/cli/errors.js';
import { ExitCode } from '../hypervisor/cli/exit-codes.js';
import { runVms, type RunOptions } from '../hypervisor/cli/run.js';

const dir = mkdtempSync(join(tmpdir(), 'tv-run-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const K = (name: string) => join(__dirname, 'kernels', name);
const SPIN = join(__dirname, 'hypervisor', 'multi', 'spin.asm');

function capture() {
  const o = { stdout: '', stderr: '' };
  return {
    o,
    io: { stdout: (b: Uint8Array) => { o.stdout += Buffer.from(b).toString('latin1'); }, stderr: (t: string) => { o.stderr += t; }, stdin: null },
  };
}

async function boot(image: string, opts: Partial<BootOptions> = {}) {
  const { o, io } = capture();
  const code = await runBoot(image, { mem: '32M', cmdline: '', engine: 'blocks', include: [], ...opts }, io);
  return { code, ...o };
}

async function run(images: string[], opts: Partial<RunOptions> = {}) {
  const { o, io } = capture();
  const code = await runVms(images, { mem: '16M', cmdline: '', engine: 'blocks', include: [], ...opts }, io);
  return { code, ...o };
}

describe('trapvisor boot IMAGE (under the hypervisor)', () => {
  it('runs the guest with its console on stdout and its isa-debug-exit status as the exit code', async () => {
    const r = await boot(K('hello.asm'), { stats: true });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^hello from a bare-metal kernel\n/);
    expect(r.stdout).toContain('ok 6 - ... with the selector as error code');
    expect(r.stderr).toMatch(/VM exits of hello: \d+/);
    expect(r.stderr).toMatch(/IO_INSTRUCTION +\d+ +100\.0%/);
  });

  it('--stats shows the exits completed in place; --no-fast-exits takes every one the long way, with the same result', async () => {
    const fast = await boot(K('hello.asm'), { stats: true });
    const slow = await boot(K('hello.asm'), { stats: true, fastExits: false });
    expect(slow.code).toBe(fast.code);
    expect(slow.stdout).toBe(fast.stdout);
    const row = (stderr: string) => stderr.match(/IO_INSTRUCTION +(\d+) +100\.0% +\d+ +\d+ +(\d+)/)!.slice(1).map(Number);
    const [count, inPlace] = row(fast.stderr);
    expect(fast.stderr).toMatch(/reason +count +share +total us +mean ns +in place/);
    expect(inPlace).toBeGreaterThan(count! / 2); // the serial port's OUTs and INs: most resume at once
    expect(row(slow.stderr)).toEqual([count, 0]);
  });

  it('traces every exit with --trace-exits', async () => {
    const r = await boot(K('hello.asm'), { traceExits: true });
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('[hello] exit'));
    expect(lines.length).toBeGreaterThan(100);
    expect(lines[0]).toMatch(/^\[hello\] exit IO_INSTRUCTION rip=0x[0-9a-f]+ qual=0x[0-9a-f]+ io port=0x3f[89a-f] -> resume$/);
  });

  it('reports a triple fault (exit 8) and a spent budget (exit 10)', async () => {
    const t = await boot(K('triple.asm'));
    expect(t.code).toBe(ExitCode.GUEST_CRASHED);
    expect(t.stderr).toMatch(/VM triple: triple fault at guest RIP 0x[0-9a-f]+/);
    const b = await boot(SPIN, { maxInstructions: '100000' });
    expect(b.code).toBe(ExitCode.BUDGET_EXHAUSTED);
    expect(b.stderr).toMatch(/budget of 100000 exhausted/);
  });

  it('refuses options that belong to the bare machine', async () => {
    await expect(boot(K('hello.asm'), { rom: 'x.rom' })).rejects.toThrow(/--rom is for the bare machine/);
  });
});

describe('trapvisor run A B ...', () => {
  it('runs several VMs with prefixed consoles and a summary table', async () => {
    const r = await run([K('hello.asm'), K('paging.asm')]);
    expect(r.code).toBe(ExitCode.OK);
    expect(r.stdout).toContain('[hello] ok 1 - EAX holds the Multiboot magic\n');
    expect(r.stdout).toMatch(/^\[paging\] 1\.\.\d+$/m);
    expect(r.stdout).not.toContain('not ok');
    expect(r.stderr).toMatch(/^hello +1 +\d+ +[\d.]+% +\d+ +exited with status 1$/m);
    expect(r.stderr).toMatch(/^paging +1 +\d+ +[\d.]+% +\d+ +exited with status 1$/m);
  });

  it('writes each console to DIR/NAME.log with --console-dir, and shares the CPU by --weights', async () => {
    const out = join(dir, 'consoles');
    const r = await run([K('hello.asm'), SPIN, SPIN], { consoleDir: out, weights: '1,3,1', maxInstructions: '4000000', slice: '10000' });
    expect(r.code).toBe(ExitCode.BUDGET_EXHAUSTED);
    expect(readFileSync(join(out, 'hello.log'), 'latin1')).toMatch(/^hello from a bare-metal kernel\n/);
    const share = (name: string) => Number(new RegExp(`^${name} +\\d+ +\\d+ +([\\d.]+)%`, 'm').exec(r.stderr)![1]);
    expect(share('spin-2')).toBeGreaterThan(0);
    expect(share('spin') / share('spin-2')).toBeGreaterThan(2.8);
    expect(share('spin') / share('spin-2')).toBeLessThan(3.2);
  });

  it('refuses bad arguments with a message and exit code 2', async () => {
    const cases: [string[], Partial<RunOptions>, RegExp][] = [
      [[], {}, /at least one IMAGE/],
      [[K('hello.asm')], { weights: '1,2' }, /one positive weight per image/],
      [[K('hello.asm')], { mem: '1M' }, /between 2M and 1G/],
      [[K('hello.asm')], { slice: '10' }, /--slice/],
      [[K('hello.asm')], { engine: 'jit' }, /--engine/],
    ];
    for (const [images, opts, message] of cases) {
      const err = await run(images, opts).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(UserError);
      expect((err as UserError).exitCode).toBe(ExitCode.USAGE);
      expect((err as UserError).message).toMatch(message);
    }
  });
});

describe('trapvisor boot --snapshot-at / trapvisor restore', () => {
  it('saves a VM mid-run and another process continues it to exactly the uninterrupted output', async () => {
    const { execFileSync, spawnSync } = await import('node:child_process');
    execFileSync(process.execPath, [join(__dirname, '..', 'scripts', 'build.mjs')]);
    const cli = join(__dirname, '..', 'dist', 'trapvisor.mjs');
    const hello = K('paging.asm');
    const whole = spawnSync(process.execPath, [cli, 'boot', hello, '--mem', '16M'], { encoding: 'latin1' });
    expect(whole.status).toBe(1);
    const snap = join(dir, 'paging.snap');
    const first = spawnSync(process.execPath, [cli, 'boot', hello, '--mem', '16M', '--snapshot-at', '20000', '--snapshot-file', snap], { encoding: 'latin1' });
    expect(first.status).toBe(0);
    expect(first.stderr).toMatch(/saved to .*paging\.snap after 20000 instructions/);
    const second = spawnSync(process.execPath, [cli, 'restore', snap], { encoding: 'latin1' });
    expect(second.status).toBe(1);
    expect(first.stdout + second.stdout).toBe(whole.stdout);
    const bad = spawnSync(process.execPath, [cli, 'restore', join(dir, 'missing.snap')], { encoding: 'latin1' });
    expect(bad.status).toBe(ExitCode.BAD_INPUT);
    expect(bad.stderr).toMatch(/cannot read the snapshot: no such file/);
  });

  it('checks the snapshot options before it reads an image', async () => {
    const { io, o } = capture();
    const missing = join(dir, 'no-such-image.asm');
    for (const [opts, message] of [
      [{ snapshotAt: '1000' }, /--snapshot-at and --snapshot-file go together/],
      [{ snapshotAt: 'soon', snapshotFile: join(dir, 'x.snap') }, /--snapshot-at/],
    ] as const) {
      const err = await runVms([missing], { mem: '16M', cmdline: '', engine: 'blocks', include: [], ...opts }, io).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(UserError);
      expect((err as UserError).exitCode).toBe(ExitCode.USAGE); // not BAD_INPUT for the missing image
      expect((err as UserError).message).toMatch(message);
    }
    expect(o.stdout).toBe('');
  });

  it('refuses a corrupted snapshot before anything runs', async () => {
    const { writeFileSync } = await import('node:fs');
    const path = join(dir, 'corrupt.snap');
    writeFileSync(path, '{"format":"trapvisor-vm-snapshot","version":1,"checksum":"00","body":{}}');
    const { io, o } = capture();
    const { restoreFromFile } = await import('../hypervisor/cli/run.js');
    const err = await restoreFromFile(path, { engine: 'blocks' }, io).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).exitCode).toBe(ExitCode.BAD_INPUT);
    expect((err as UserError).message).toMatch(/checksum mismatch.*nothing restored/);
    expect(o.stdout).toBe('');
  });
});

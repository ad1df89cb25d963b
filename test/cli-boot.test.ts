/**
 * `trapvisor boot --bare`: images of every kind, serial in and out, the debug console, POST codes,
 * I/O tracing, budgets and crash reports, and refusing bad input (and the hypervisor's options)
 * before anything runs. Under the hypervisor: --max-instructions bounds --snapshot-at too.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assemble } from '../assembler/index.js';
import { runBoot, type BootOptions } from '../hypervisor/cli/boot.js';
import { UserError } from '../hypervisor/cli/errors.js';
import { ExitCode } from '../hypervisor/cli/exit-codes.js';

const dir = mkdtempSync(join(tmpdir(), 'tv-boot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const LIB = join(__dirname, '..', 'guests', 'lib');

const DEFAULTS: BootOptions = { bare: true, mem: '16M', cmdline: '', engine: 'blocks', include: [] };

async function boot(image: string | undefined, opts: Partial<BootOptions> = {}, stdin: string | null = null) {
  let stdout = '', stderr = '';
  const code = await runBoot(image, { ...DEFAULTS, ...opts }, {
    stdout: (b) => { stdout += Buffer.from(b).toString('latin1'); },
    stderr: (t) => { stderr += t; },
    stdin: stdin === null ? null : new TextEncoder().encode(stdin),
  });
  return { code, stdout, stderr };
}

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** A Multiboot kernel from a body of 32-bit code (the header and includes are added). */
function kernel(name: string, body: string): string {
  return write(name, `bits 32\norg 0x100000\n%include "multiboot.inc"\n MULTIBOOT_HEADER start\nstart:\n${body}\n MULTIBOOT_END\n`);
}

const ECHO = kernel('echo.asm', `
        mov dx, 0x3f8 + 5
.wait:  in al, dx
        test al, 1              ; LSR.DR
        jz .wait
        mov dx, 0x3f8
        in al, dx
        cmp al, '.'
        je .done
        inc al                  ; echo the next letter up
        out dx, al
        mov dx, 0x3f8 + 5
        jmp .wait
.done:  mov al, 5
        mov dx, 0xf4
        out dx, al
        hlt`);

describe('trapvisor boot --bare', () => {
  it('assembles a .asm image, runs it, echoes serial input, and exits with (n << 1) | 1', async () => {
    const r = await boot(ECHO, {}, 'HAL.');
    expect(r.stdout).toBe('IBM');
    expect(r.code).toBe(11);
  });

  it('boots a prebuilt Multiboot binary and a raw binary with --load/--entry', async () => {
    const src = readFileSync(ECHO, 'utf8');
    const bin = join(dir, 'echo.bin');
    writeFileSync(bin, assemble(src, { fileName: 'echo.asm', includePaths: [LIB] }).binary);
    expect((await boot(bin, {}, 'a.')).stdout).toBe('b');
    const raw = write('raw.asm', 'bits 32\norg 0x200000\nmov dx, 0xf4\nmov al, 7\nout dx, al\n');
    const rawBin = join(dir, 'raw.bin');
    writeFileSync(rawBin, assemble(readFileSync(raw, 'utf8'), { fileName: 'raw.asm' }).binary);
    expect((await boot(rawBin, { load: '0x200000' })).code).toBe(15);
  });

  it('passes the command line in the Multiboot information', async () => {
    const k = kernel('cmdline.asm', `
        mov esi, [ebx + 16]     ; cmdline
        mov dx, 0x3f8
.next:  lodsb
        test al, al
        jz .done
        out dx, al
        jmp .next
.done:  cli
        hlt`);
    const r = await boot(k, { cmdline: 'console=ttyS0 quiet' });
    expect(r.stdout).toBe('console=ttyS0 quiet');
    expect(r.code).toBe(ExitCode.OK);
    expect(r.stderr).toContain('halted with interrupts disabled');
  });

  it('sends --debugcon bytes to stdout or a file, and reports the last POST code', async () => {
    const k = kernel('debugcon.asm', `
        mov dx, 0xe9
        mov al, 'd'
        out dx, al
        mov al, 0x42
        out 0x80, al
        mov al, 0x43
        out 0x80, al
        cli
        hlt`);
    const r = await boot(k, { debugcon: true, postPort: true });
    expect(r.stdout).toBe('d');
    expect(r.stderr).toContain('last POST code: 0x43');
    const file = join(dir, 'debugcon.out');
    const r2 = await boot(k, { debugconFile: file });
    expect(r2.stdout).toBe('');
    expect(readFileSync(file, 'latin1')).toBe('d');
  });

  it('traces port I/O with --trace-io and counts unmapped ports (which read 0xFF)', async () => {
    const k = kernel('trace.asm', `
        mov dx, 0x1234
        in al, dx
        mov dx, 0x3f8
        out dx, al
        cli
        hlt`);
    const r = await boot(k, { traceIo: true });
    expect(r.stdout).toBe('\xff');
    expect(r.stderr).toMatch(/in {2}1234 -> ff .*\(unmapped\)/);
    expect(r.stderr).toMatch(/out 03f8 <- ff .*uart16550/);
    expect(r.stderr).toContain('unmapped port accesses (read 0xFF / ignored): in 1234x1');
  });

  it('stops at the budget with exit 10 and a state report', async () => {
    const k = kernel('spin.asm', 'mov eax, 0x1234abcd\n.spin: inc ecx\n jmp .spin');
    const r = await boot(k, { maxInstructions: '100000' });
    expect(r.code).toBe(ExitCode.BUDGET_EXHAUSTED);
    expect(r.stderr).toContain('instruction budget of 100000 exhausted');
    expect(r.stderr).toContain('EAX=1234abcd');
    expect(r.stderr).toMatch(/recent execution/);
    expect(r.stderr).toMatch(/inc ecx|jmp/);
  });

  it('reports a triple fault with the machine state and exit 8', async () => {
    // No IDT: the #UD cannot be delivered (#GP), nor the #GP (#DF), nor the #DF: triple fault.
    const k = kernel('triple.asm', 'lidt [idtr]\n mov eax, 0xfeedface\n ud2\nidtr: dw 0\n dd 0');
    const r = await boot(k, {});
    expect(r.code).toBe(ExitCode.GUEST_CRASHED);
    expect(r.stderr).toContain('triple fault');
    expect(r.stderr).toContain('EAX=feedface');
    expect(r.stderr).toMatch(/ 0f0b +ud2 +<==/);
  });

  it('gives the same result on both engines', async () => {
    const a = await boot(ECHO, { engine: 'interpret' }, 'xyz.');
    const b = await boot(ECHO, { engine: 'blocks' }, 'xyz.');
    expect(a).toEqual(b);
    expect(a.stdout).toBe('yz{');
  });

  it('refuses bad input with a message and a documented exit code', async () => {
    const cases: [string | undefined, Partial<BootOptions>, number, RegExp][] = [
      [undefined, {}, ExitCode.USAGE, /give an IMAGE, or --rom/],
      [ECHO, { bare: false, load: '0x100000' }, ExitCode.USAGE, /--load is for the bare machine; add --bare/],
      [ECHO, { mem: '12345' }, ExitCode.USAGE, /multiple of 4 KiB/],
      [ECHO, { engine: 'jit' }, ExitCode.USAGE, /--engine/],
      [join(dir, 'missing.bin'), {}, ExitCode.BAD_INPUT, /no such file/],
      [write('junk.bin', 'not a kernel at all'), {}, ExitCode.BAD_INPUT, /no Multiboot header/],
      [write('bad.asm', 'bits 32\nmov eax, [\n'), {}, ExitCode.ASSEMBLY_ERROR, /assembly failed/],
      [undefined, { rom: write('small.rom', 'x'.repeat(100)) }, ExitCode.BAD_INPUT, /64 KiB or 128 KiB/],
      // What only a VM under the hypervisor has is refused on the bare machine, not ignored (the
      // budget only bounds a run that wrongly goes ahead: ECHO waits for input forever).
      [ECHO, { maxInstructions: '100000', snapshotAt: '1000', snapshotFile: join(dir, 'x.snap') }, ExitCode.USAGE, /--snapshot-at is for a VM under the hypervisor; drop --bare/],
      [ECHO, { maxInstructions: '100000', snapshotFile: join(dir, 'x.snap') }, ExitCode.USAGE, /--snapshot-file is for a VM under the hypervisor; drop --bare/],
      [ECHO, { maxInstructions: '100000', migrateTo: '127.0.0.1:1', after: '1000' }, ExitCode.USAGE, /--migrate-to is for a VM under the hypervisor; drop --bare/],
      [ECHO, { maxInstructions: '100000', after: '1000' }, ExitCode.USAGE, /--after is for a VM under the hypervisor; drop --bare/],
      [ECHO, { maxInstructions: '100000', replicateTo: '127.0.0.1:1' }, ExitCode.USAGE, /--replicate-to is for a VM under the hypervisor; drop --bare/],
      [ECHO, { maxInstructions: '100000', epoch: '20000' }, ExitCode.USAGE, /--epoch is for a VM under the hypervisor; drop --bare/],
      [ECHO, { maxInstructions: '100000', failAt: '5000' }, ExitCode.USAGE, /--fail-at is for a VM under the hypervisor; drop --bare/],
      [ECHO, { maxInstructions: '100000', traceExits: true }, ExitCode.USAGE, /--trace-exits is for a VM under the hypervisor; drop --bare/],
      [ECHO, { maxInstructions: '100000', stats: true }, ExitCode.USAGE, /--stats is for a VM under the hypervisor; drop --bare/],
      [ECHO, { maxInstructions: '100000', fastExits: false }, ExitCode.USAGE, /--no-fast-exits is for a VM under the hypervisor; drop --bare/],
    ];
    for (const [image, opts, code, message] of cases) {
      const err = await boot(image, opts).then(() => null, (e: unknown) => e);
      expect(err, `${image} ${JSON.stringify(opts)}`).toBeInstanceOf(UserError);
      expect((err as UserError).exitCode).toBe(code);
      expect((err as UserError).message).toMatch(message);
    }
  });

  it('refuses --epoch and --fail-at with --bare as a process, with the usage exit code', () => {
    const cli = join(__dirname, '..', 'dist', 'trapvisor.mjs');
    execFileSync(process.execPath, [join(__dirname, '..', 'scripts', 'build.mjs')]);
    for (const extra of [['--epoch', '20000'], ['--fail-at', '5000']]) {
      const r = spawnSync(process.execPath, [cli, 'boot', '--bare', ECHO, ...extra], { input: 'abc.' });
      expect(r.status, extra.join(' ')).toBe(ExitCode.USAGE);
      expect(r.stdout.toString()).toBe(''); // nothing ran
      expect(r.stderr.toString()).toBe(`trapvisor: boot: ${extra[0]} is for a VM under the hypervisor; drop --bare\n`);
    }
  });

  it('is a real command: exit status and stdout from the built CLI', () => {
    const cli = join(__dirname, '..', 'dist', 'trapvisor.mjs');
    execFileSync(process.execPath, [join(__dirname, '..', 'scripts', 'build.mjs')]);
    const r = spawnSync(process.execPath, [cli, 'boot', '--bare', ECHO], { input: 'abc.' });
    expect(r.stdout.toString()).toBe('bcd');
    expect(r.status).toBe(11);
    const bad = spawnSync(process.execPath, [cli, 'boot', '--bare', join(dir, 'nope.bin')], { input: '' });
    expect(bad.status).toBe(ExitCode.BAD_INPUT);
    expect(bad.stderr.toString()).toMatch(/^trapvisor: .*no such file\n$/);
  });
});

describe('trapvisor boot under the hypervisor: --max-instructions is one budget for the whole run', () => {
  const SPIN = kernel('vm-spin.asm', '.spin: inc ecx\n jmp .spin');

  it('writes no snapshot when the budget runs out before --snapshot-at', async () => {
    const file = join(dir, 'late.snap');
    const r = await boot(SPIN, { bare: false, maxInstructions: '50000', snapshotAt: '80000', snapshotFile: file });
    expect(r.code).toBe(ExitCode.BUDGET_EXHAUSTED);
    expect(r.stderr).toMatch(/^trapvisor: the instruction budget of 50000 ran out before --snapshot-at 80000; no snapshot written\ntrapvisor: instruction budget of 50000 exhausted before the guest stopped \(guest RIP 0x[0-9a-f]+\)\n$/);
    expect(existsSync(file)).toBe(false);
  });

  it('still snapshots when --snapshot-at is within the budget', async () => {
    const file = join(dir, 'early.snap');
    const r = await boot(SPIN, { bare: false, maxInstructions: '50000', snapshotAt: '20000', snapshotFile: file });
    expect(r.code).toBe(ExitCode.OK);
    expect(r.stderr).toMatch(/saved to .*early\.snap after 20000 instructions/);
    expect(existsSync(file)).toBe(true);
  });
});

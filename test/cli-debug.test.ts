/**
 * `trapvisor debug`: batch sessions (-ex, --batch) on the hello guest with source lines, --json,
 * --bare, images with their symbol files, the interactive prompt (empty line repeats, history,
 * colour on a terminal, Ctrl-C stopping a running guest), --gdb, and bad input answered with the
 * documented exit codes and no stack trace.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assemble } from '../assembler/index.js';
import { runDebug } from '../hypervisor/cli/debug.js';
import { UserError } from '../hypervisor/cli/errors.js';
import { ExitCode } from '../hypervisor/cli/exit-codes.js';
import { frame, sleep } from './debug/gdb-client.js';
import { debug, io } from './debug/run-debug.js';

const ROOT = join(__dirname, '..');
const HELLO = join(ROOT, 'guests', 'hello', 'fv.asm');
const SPIN = join(ROOT, 'test', 'hypervisor', 'multi', 'spin.asm');
const CLI = join(ROOT, 'dist', 'trapvisor.mjs');
const dir = mkdtempSync(join(tmpdir(), 'tv-debug-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(() => { execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')]); });

describe('trapvisor debug in batch', () => {
  it('steps through the hello guest showing instructions and source lines', async () => {
    const r = await debug([HELLO], { ex: ['break start', 'continue', 'stepi', 'next', 'step', 'info registers eip esi', 'x/s message'] });
    expect(r.code).toBe(ExitCode.OK);
    const lines = r.stdout.split('\n');
    expect(lines.slice(0, 4)).toEqual([
      `Breakpoint 1 at 0x00100020 <start>: file ${HELLO}, line 7.`,
      'Breakpoint 1, start',
      `${HELLO}:7\tstart:  mov esi, message`,
      '=> 0x00100020 <start>:\tmov esi,0x100038',
    ]);
    expect(lines.slice(4, 10)).toEqual([
      `${HELLO}:8\tmov dx, 0x3f8                   ; COM1 transmit register`, '=> 0x00100025 <start+0x5>:\tmov dx,0x3f8',
      `${HELLO}:9\t.next:  lodsb`, '=> 0x00100029 <start.next>:\tlodsb',
      `${HELLO}:10\tout dx, al`, '=> 0x0010002a <start.next+0x1>:\tout dx,al',
    ]);
    expect(lines[10]).toMatch(/^eip +0x10002a +<start.next\+0x1>$/);
    expect(lines[11]).toMatch(/^esi +0x100039 +1048633$/);
    expect(lines[12]).toBe('0x00100038:\t"Hello from a full-virtualized guest: every byte is an OUT to the UART.\\n"');
    expect(r.console).toBe('');
  });

  it('runs a --batch file, then -ex, and the guest to its end', async () => {
    const file = join(dir, 'cmds.gdb');
    writeFileSync(file, '# comments and blank lines are skipped\n\nbreak start.next if $al == 0x66\ncontinue\n');
    const r = await debug([HELLO], { batch: file, ex: ['print/x $al', 'delete', 'continue'] });
    expect(r.code).toBe(ExitCode.OK);
    expect(r.stdout).toContain('Breakpoint 1, start.next');
    expect(r.stdout).toContain('$1 = 0x66');
    expect(r.stdout).toContain('if $al == 0x66\n\nBreakpoint 1, start.next'); // a newline after the guest's unfinished line
    expect(r.stdout).toContain('[fv] exited with status 1');
    expect(r.console).toBe('Hello from a full-virtualized guest: every byte is an OUT to the UART.\n');
  });

  it('gives one JSON object per command with the console output in it', async () => {
    const r = await debug([HELLO], { json: true, ex: ['catch exit io', 'continue', 'info translate message', 'bogus'] });
    expect(r.code).toBe(ExitCode.USAGE); // a command failed
    const records = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(records.map((x) => [x.command, x.ok])).toEqual([['catch exit io', true], ['continue', true], ['info translate message', true], ['bogus', false]]);
    expect(records[0].result.catchpoint).toMatchObject({ kind: 'exit', reason: 30 });
    expect(records[1].result).toMatchObject({ stop: 'catch-exit', exit: { name: 'IO_INSTRUCTION', qualification: 0x03f80000, guestRip: 0x10002a, decoded: { kind: 'io', port: 0x3f8 } } });
    expect(records[1].console).toBe('H');
    expect(records[2].result.guest.address).toBe(0x100038);
    expect(records[2].result.ept.steps.map((s: { level: string }) => s.level)).toEqual(['PML4E', 'PDPTE', 'PDE', 'PTE']);
    expect(records[3].error).toBe('Undefined command: "bogus".  Try "help".');
    expect(r.console).toBe('');
  });

  it('--json gives print\'s value with its history number, and history errors in GDB\'s words', async () => {
    const r = await debug([HELLO], { json: true, ex: ['print 7', 'print/x $1 + $', 'print $$9', 'print $5'] });
    expect(r.code).toBe(ExitCode.USAGE);
    const records = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(records.slice(0, 2)).toEqual([
      { command: 'print 7', ok: true, output: ['$1 = 7'], result: { history: 1, value: 7 } },
      { command: 'print/x $1 + $', ok: true, output: ['$2 = 0xe'], result: { history: 2, value: 14 } },
    ]);
    expect(records.slice(2).map((x) => [x.ok, x.error])).toEqual([[false, 'History does not go back to $$9.'], [false, 'History has not yet reached $5.']]);
  });

  it('debugs the bare machine with --bare', async () => {
    const r = await debug([HELLO], { bare: true, ex: ['until *0x100033', 'info registers eip', 'info vmcs', 'continue'] });
    expect(r.stdout).toMatch(/eip +0x100033 +<start.next\+0xa>/);
    expect(r.stderr).toBe('info vmcs: the bare machine has no VMCS (debug under the hypervisor)\n');
    expect(r.stdout).toContain('[bare] exited with status 1');
    expect(r.console).toBe('Hello from a full-virtualized guest: every byte is an OUT to the UART.\n');
    expect(r.code).toBe(ExitCode.USAGE);
  });

  it('reads an image\'s symbol file beside it, or the one --symbols names', async () => {
    const asm = assemble(readFileSync(HELLO, 'utf8'), { fileName: HELLO, includePaths: [join(ROOT, 'guests', 'lib')] });
    writeFileSync(join(dir, 'hello.img'), asm.binary);
    writeFileSync(join(dir, 'hello.sym'), JSON.stringify(asm.symbols));
    const beside = await debug([join(dir, 'hello.img')], { ex: ['break start.next', 'c', 'info line'] });
    expect(beside.stdout).toContain('Breakpoint 1, start.next');
    expect(beside.stdout).toContain(`Line 9 of "${HELLO}" starts at address 0x00100029 <start.next>.`);
    writeFileSync(join(dir, 'bare.img'), asm.binary);
    const none = await debug([join(dir, 'bare.img')], { ex: ['break start'] });
    expect(none.code).toBe(ExitCode.USAGE);
    expect(none.stderr).toMatch(/start/);
    const named = await debug([join(dir, 'bare.img')], { symbols: join(dir, 'hello.sym'), ex: ['x/2i start.next'] });
    expect(named.stdout).toBe('   0x00100029 <start.next>:\tlodsb\n   0x0010002a <start.next+0x1>:\tout dx,al\n');
  });

  it('debugs several VMs, one per image', async () => {
    const r = await debug([HELLO, SPIN], { ex: ['info vms', 'vm 1', 'break start.spin vm 1', 'continue', 'info registers eip', 'vm 0', 'info registers eip'] });
    expect(r.code).toBe(ExitCode.OK);
    expect(r.stdout).toMatch(/^\* 0 fv +runnable +pc=0x00100020 <start>/m);
    expect(r.stdout).toMatch(/^ {2}1 spin +runnable +pc=0x00100020 <start>/m);
    expect(r.stdout).toContain('[Switching to VM 1 (spin)]');
    expect(r.stdout).toContain('Breakpoint 1, start.spin');
    expect(r.stdout).toMatch(/eip +0x100023 +<start.spin>\n\[Switching to VM 0 \(fv\)\]\neip +0x[0-9a-f]+ /);
  });
});

describe('trapvisor debug, interactive', () => {
  it('prompts, repeats the last command on an empty line, and stops a running guest on Ctrl-C', async () => {
    const stdin = new PassThrough();
    let interrupt: () => void = () => {};
    const c = io({ stdin, onInterrupt: (h) => { interrupt = h; return () => { interrupt = () => {}; }; } });
    const done = runDebug([SPIN], { ex: [], mem: '16M', include: [] }, c.io);
    stdin.write('stepi\n\n\ninfo registers eax\ncontinue\n');
    while (!c.out.stdout.includes('eax')) await sleep(5);
    await sleep(50);
    interrupt();
    while (!c.out.stdout.includes('SIGINT')) await sleep(5);
    stdin.write('print $eax > 1000\nquit\n');
    expect(await done).toBe(ExitCode.OK);
    const out = c.out.stdout;
    expect(out).toMatch(/^\S+spin\.asm:8\tcli\n=> 0x00100020 <start>:\tcli\nType "help" for the commands\.\n/);
    expect(out.split('\n').filter((l) => l.startsWith('=> ')).slice(1, 4)).toEqual([
      '=> 0x00100021 <start+0x1>:\txor eax,eax', '=> 0x00100023 <start.spin>:\tinc eax', '=> 0x00100024 <start.spin+0x1>:\tjmp short start.spin']);
    expect(out).toMatch(/eax +0x1 +1\n/);
    expect(out).toMatch(/Program received signal SIGINT, Interrupt\.\n\S+spin\.asm:1[01]\t.*\n=> 0x0010002[34] <start.spin(\+0x1)?>/);
    expect(out).toContain('$1 = 1');
  });

  it('on a terminal: history with the up arrow, and colour', async () => {
    const stdin = new PassThrough(), prompt = new PassThrough();
    let echoed = '';
    prompt.on('data', (d) => { echoed += d; });
    const c = io({ stdin, prompt, tty: true });
    const done = runDebug([HELLO], { ex: [], mem: '16M', include: [] }, c.io);
    stdin.write('info registers esi\r');
    stdin.write('stepi\r');
    stdin.write('\x1b[A\x1b[A\r'); // up twice: info registers esi
    stdin.write('quit\r');
    expect(await done).toBe(ExitCode.OK);
    expect(c.out.stdout.match(/^esi .*$/gm)).toEqual(['esi            0x0                0', 'esi            0x100038           1048632']);
    expect(c.out.stdout).toContain('\x1b[32m=> 0x00100025 <start+0x5>:\tmov dx,0x3f8\x1b[39m');
    expect(echoed).toContain('\x1b[1m(trapvisor) \x1b[22m');
  });

  it('on a terminal, Ctrl-C (a 0x03 keypress) stops a running continue', async () => {
    const stdin = new PassThrough();
    const c = io({ stdin, tty: true });
    const done = runDebug([SPIN], { ex: [], mem: '16M', include: [] }, c.io);
    stdin.write('continue\r');
    await sleep(100);
    expect(c.out.stdout).not.toContain('SIGINT'); // still running
    stdin.write('\x03');
    while (!c.out.stdout.includes('SIGINT')) await sleep(5);
    stdin.write('quit\r');
    expect(await done).toBe(ExitCode.OK);
    expect(c.out.stdout).toMatch(/Program received signal SIGINT, Interrupt\.\x1b\[39m\n.*\n\x1b\[32m=> 0x0010002[34] <start.spin/);
  });
});

describe('trapvisor debug errors', () => {
  it('refuses bad images, sources, symbol files and options with the documented exit codes', async () => {
    await expect(debug([join(dir, 'nope.img')], {})).rejects.toMatchObject({ exitCode: ExitCode.BAD_INPUT, message: expect.stringMatching(/nope\.img: cannot read image: no such file/) });
    writeFileSync(join(dir, 'junk.img'), Buffer.alloc(64, 0x90));
    await expect(debug([join(dir, 'junk.img')], {})).rejects.toMatchObject({ exitCode: ExitCode.BAD_INPUT });
    writeFileSync(join(dir, 'bad.asm'), 'bits 32\n        mov eax, [nowhere\n');
    const c = io();
    await expect(runDebug([join(dir, 'bad.asm')], { ex: [], mem: '16M', include: [] }, c.io)).rejects.toMatchObject({ exitCode: ExitCode.ASSEMBLY_ERROR });
    expect(c.out.stderr).toMatch(/bad\.asm:2:\d+: error: /);
    writeFileSync(join(dir, 'junk.sym'), '{"not": "symbols"}');
    await expect(debug([HELLO], { symbols: join(dir, 'junk.sym') })).rejects.toMatchObject({ exitCode: ExitCode.BAD_INPUT });
    await expect(debug([HELLO, HELLO], { bare: true })).rejects.toMatchObject({ exitCode: ExitCode.USAGE });
    await expect(debug([HELLO], { bare: true, pv: true })).rejects.toMatchObject({ exitCode: ExitCode.USAGE });
    await expect(debug([HELLO], { gdb: 'somewhere' })).rejects.toMatchObject({ exitCode: ExitCode.USAGE });
    await expect(debug([HELLO], { mem: '3' })).rejects.toBeInstanceOf(UserError);
  });

  it('as a process: exit codes without stack traces, and GDB\'s -ex spelling', () => {
    const bad = spawnSync(process.execPath, [CLI, 'debug', join(dir, 'nope.img')], { encoding: 'utf8' });
    expect(bad.status).toBe(ExitCode.BAD_INPUT);
    expect(bad.stderr).toMatch(/^trapvisor: .*nope\.img: cannot read image: no such file\n$/);
    const cmd = spawnSync(process.execPath, [CLI, 'debug', HELLO, '-ex', 'stepi', '-ex', 'frobnicate'], { encoding: 'utf8' });
    expect(cmd.status).toBe(ExitCode.USAGE);
    expect(cmd.stdout).toContain('=> 0x00100025 <start+0x5>:\tmov dx,0x3f8');
    expect(cmd.stderr).toBe('Undefined command: "frobnicate".  Try "help".\n');
    expect(bad.stderr + cmd.stderr).not.toMatch(/\n\s+at /);
  });

  it('as a process: --gdb serves the protocol until the client kills the target', async () => {
    const child = spawn(process.execPath, [CLI, 'debug', HELLO, '--gdb', '0', '-ex', 'break start.next'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '', stdout = '';
    child.stderr.on('data', (d) => { stderr += d; });
    child.stdout.on('data', (d) => { stdout += d; });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    while (!/listening on 127\.0\.0\.1:(\d+)/.test(stderr)) await sleep(5);
    const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(stderr)![1]);
    const socket = connect(port, '127.0.0.1');
    let got = '';
    socket.on('data', (d) => { got += d.toString('latin1'); });
    socket.write(frame('c'));
    while (!got.includes('#')) await sleep(5);
    expect(got).toBe(`+${frame('T05thread:1;swbreak:;')}`); // the -ex breakpoint
    socket.write(frame('k'));
    expect(await exited).toBe(0);
    expect(stdout).toContain('Breakpoint 1 at 0x00100029 <start.next>');
    expect(stderr).toContain('gdb: client killed the target');
  });
});

/**
 * Reverse debugging: reverse-stepi lands on exactly the state forward execution had there;
 * reverse-continue goes back to the previous breakpoint or watchpoint hit (and to the start of
 * history when there is none); exit history, hit counts and the console are as they were; GDB's
 * bs and bc over the remote protocol, and the real gdb's reverse-stepi and reverse-continue.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assemble } from '../../assembler/index.js';
import { CommandInterpreter } from '../../hypervisor/debug/commands.js';
import { Debugger } from '../../hypervisor/debug/debugger.js';
import { TimeTravelReverse } from '../../hypervisor/debug/reverse.js';
import { Symbols } from '../../hypervisor/debug/symbols.js';
import { Hypervisor } from '../../hypervisor/hypervisor.js';
import type { DebugOptions } from '../../hypervisor/cli/debug.js';
import { ExitCode } from '../../hypervisor/cli/exit-codes.js';
import { client, hasGdb, realGdb } from './gdb-client.js';
import { debug } from './run-debug.js';
import { session } from './session.js';

const HELLO = 'guests/hello/fv.img';

/** The hello guest under the hypervisor with reverse execution attached. */
function helloSession(interval = 64) {
  const s = session(HELLO, 'vm');
  const rev = new TimeTravelReverse(s.dbg, { interval });
  return { ...s, rev };
}

/** Registers, flags, EIP and the retired count, as the debugger sees them. */
function regs(s: ReturnType<typeof helloSession>): string {
  return [...s.run('info registers'), `retired ${s.dbg.current.retired()}`].join('\n');
}

describe('reverse execution in the debugger', () => {
  it('reverse-stepi lands on exactly the state stepping forward had there', () => {
    const s = helloSession();
    const seen: string[] = [];
    for (let i = 0; i < 120; i++) { seen.push(regs(s)); s.run('stepi'); }
    seen.push(regs(s));
    const printed = s.console();
    expect(printed.length).toBeGreaterThan(20);
    const exitsThere = s.dbg.exits.length;
    for (const back of [1, 3, 40, 119]) {
      const out = s.run(`reverse-stepi ${back}`);
      expect(out.join('\n')).toMatch(/=> 0x0010/);
      expect(regs(s)).toBe(seen[120 - back]);
      s.run(`stepi ${back}`); // and forward again: the same history
      expect(regs(s)).toBe(seen[120]);
    }
    s.run('reverse-stepi 119');
    expect(s.run('rsi').join('\n')).toMatch(/=> 0x00100020 <start>/); // back to the first instruction
    expect(regs(s)).toBe(seen[0]);
    expect(s.run('reverse-stepi')[0]).toBe('No more reverse-execution history.');
    expect(s.console()).toBe(printed); // nothing printed twice
    expect(s.dbg.exits.length).toBeLessThan(exitsThere); // the exit history is as it was back there
    expect(s.run('continue')[0]).toMatch(/exited with status 1/);
    expect(s.console()).toBe('Hello from a full-virtualized guest: every byte is an OUT to the UART.\n');
  });

  it('reverse-continue goes back to the previous breakpoint hit, then to the start of history', () => {
    const s = helloSession();
    s.run('break start.next+0x1'); // out dx, al
    for (let i = 0; i < 6; i++) s.run('continue');
    expect(s.console()).toBe('Hello');
    const sixth = regs(s);
    s.run('stepi 3');
    const stop = s.run('reverse-continue');
    expect(stop[0]).toBe('Breakpoint 1, start.next+0x1');
    expect(regs(s)).toBe(sixth);
    expect(s.dbg.evaluate('$al')).toBe(0x20); // the space after "Hello", about to be written
    s.run('rc');
    expect(s.dbg.evaluate('$al')).toBe(0x6f); // 'o'
    expect(s.dbg.breakpoints[0]!.hits).toBe(8);
    // Forward from a breakpoint reached backwards: on to the next hit, not this one again.
    s.run('continue');
    expect(regs(s)).toBe(sixth);
    for (let i = 0; i < 6; i++) s.run('rc');
    expect(s.run('rc')[0]).toBe('No more reverse-execution history.');
    expect(s.dbg.current.retired()).toBe(0);
    expect(s.dbg.pc()).toBe(0x100020);
    expect(s.console()).toBe('Hello '); // printed once, going forward; nothing more since
  });

  it('reverse-continue stops before the instruction that wrote a watched location', () => {
    const source = `
      bits 32
      org 0x100000
      %include "multiboot.inc"
              MULTIBOOT_HEADER start
      start:  mov ecx, 1
      again:  mov eax, ecx
              imul eax, eax
              nop
              mov [square], eax
              nop
              inc ecx
              cmp ecx, 40
              jb again
              mov al, 0
              out 0xf4, al
              hlt
      square: dd 0
              MULTIBOOT_END`;
    const asm = assemble(source, { fileName: 'squares.asm', includePaths: [join(__dirname, '..', '..', 'guests', 'lib')] });
    const hv = new Hypervisor({ ramSize: 12 << 20 });
    const vm = hv.createVm({ name: 'squares', memory: 4 << 20 });
    hv.bootMultiboot(vm, asm.binary);
    const dbg = new Debugger({ hv }, new Symbols(asm.symbols));
    new TimeTravelReverse(dbg, { interval: 50 });
    const cli = new CommandInterpreter(dbg);
    const run = (c: string): string[] => cli.execute(c).lines;
    run('watch *(int*)square');
    for (let i = 0; i < 10; i++) run('continue');
    expect(dbg.evaluate('*(int*)square')).toBe(100);
    run('stepi 2');
    const back = run('reverse-continue');
    expect(back[0]).toMatch(/^Hardware watchpoint 1: \*\(int\*\)square/);
    expect(back).toContain('Old value = 0x64'); // as GDB shows it going backwards
    expect(back).toContain('New value = 0x51');
    expect(dbg.evaluate('*(int*)square')).toBe(81);
    expect(dbg.pc()).toBe(dbg.symbols.lookup('again')! + 6); // at mov [square], eax
    expect(dbg.evaluate('$eax')).toBe(100);
    run('reverse-continue');
    expect(dbg.evaluate('*(int*)square')).toBe(64);
    expect(dbg.evaluate('$ecx')).toBe(9);
  });

  it('GDB bs and bc packets, and the earliest point reported as replaylog:begin', async () => {
    const s = helloSession();
    const { ask } = client(s);
    expect(await ask('qSupported:multiprocess+')).toMatch(/ReverseStep\+;ReverseContinue\+/);
    expect(await ask('Z0,100029,1')).toBe('OK');
    await ask('c'); await ask('c'); await ask('c');
    expect(s.console()).toBe('He');
    const eip = async (): Promise<string> => (await ask('g')).slice(64, 72);
    expect(await eip()).toBe('29001000');
    expect(await ask('bs')).toMatch(/^T05/);
    expect(await eip()).toBe('31001000'); // jb .next, the instruction before
    expect(await ask('bc')).toMatch(/^T05.*swbreak/);
    expect(await eip()).toBe('29001000');
    expect((await ask('g')).slice(0, 2)).toBe('48'); // al = 'H': the second hit, 'e' not loaded yet
    expect(await ask('bc')).toMatch(/^T05.*swbreak/); // the first
    expect(await ask('bc')).toMatch(/^T05.*replaylog:begin;/);
    expect(await eip()).toBe('20001000');
  });

  it.skipIf(!hasGdb)(`the real gdb steps and continues backwards${hasGdb ? '' : ' (skipped: gdb is not installed; apt-get install gdb)'}`, async () => {
    const s = helloSession();
    const out = await realGdb(s, (port) => [
      `target remote 127.0.0.1:${port}`, 'break *0x10002a', 'continue', 'continue', 'continue',
      'print/x $eax', 'reverse-stepi', 'print/x $eip', 'reverse-continue', 'print/x $eax', 'detach',
    ]);
    expect(out).toMatch(/\$1 = 0x2badb06c/); // 'l', the third byte
    expect(out).toMatch(/\$2 = 0x100029/);
    expect(out).toMatch(/\$3 = 0x2badb065/); // 'e', the breakpoint hit before
    expect(s.console()).toBe('He');
  });

  it('trapvisor debug records by default: reverse commands, info record, and --no-record', async () => {
    const hello = join(__dirname, '..', '..', 'guests', 'hello', 'fv.asm');
    const run = (ex: string[], extra: Partial<DebugOptions> = {}) => debug([hello], { ex, mem: '8M', recordInterval: '16', ...extra });
    const r = await run(['break start.next+1', 'continue', 'continue', 'print/x $al', 'reverse-continue', 'print/x $al', 'reverse-stepi 2', 'info registers eip', 'info record']);
    expect(r.code).toBe(ExitCode.OK);
    expect(r.stdout).toMatch(/\$1 = 0x65[\s\S]*Breakpoint 1, start\.next\+0x1[\s\S]*\$\d+ = 0x48/);
    expect(r.stdout).toMatch(/eip\s+0x100025/); // mov dx, 0x3f8: two instructions before the first OUT
    expect(r.stdout).toMatch(/Recording: checkpoints every 16 instructions/);
    expect(r.stdout).toMatch(/go back from instruction 1 to 0\.\nReplays so far: [1-9]/);
    const off = await run(['stepi', 'reverse-stepi'], { record: false });
    expect(off.code).toBe(ExitCode.USAGE);
    expect(off.stderr).toMatch(/does not support reverse execution/);
  });
});

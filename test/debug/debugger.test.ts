/**
 * Scripted debugger sessions over the real guests, on the bare machine and under the hypervisor:
 * stepping shows the expected instructions and source lines, breakpoints (symbol, file:line,
 * physical, temporary, conditional) stop where they should, a watchpoint stops at the writing
 * instruction, `catch exit io` stops at the UART write with its qualification, the EPT walk shows
 * the VM's frames, and being attached changes nothing the guest can see.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { debug } from './run-debug.js';
import { session } from './session.js';

const HELLO = 'guests/hello/fv.img';
const HELLO_ASM = join(__dirname, '..', '..', 'guests', 'hello', 'fv.asm');

describe.each(['bare', 'vm'] as const)('debugger on the hello guest (%s)', (mode) => {
  it('steps by instruction and by source line, showing instructions and lines', () => {
    const s = session(HELLO, mode);
    expect(s.run('break start')).toEqual(['Breakpoint 1 at 0x00100020 <start>: file guests/hello/fv.asm, line 7.']);
    const stop = s.run('continue');
    expect(stop[0]).toBe('Breakpoint 1, start');
    expect(stop[1]).toMatch(/^guests\/hello\/fv\.asm:7\tstart:\s+mov esi, message/);
    expect(stop[2]).toBe('=> 0x00100020 <start>:\tmov esi,0x100038');
    expect(s.run('stepi')).toEqual(['guests/hello/fv.asm:8\tmov dx, 0x3f8                   ; COM1 transmit register', '=> 0x00100025 <start+0x5>:\tmov dx,0x3f8']);
    expect(s.run('next')[0]).toMatch(/^guests\/hello\/fv\.asm:9\t\.next:\s+lodsb/);
    expect(s.run('step')[0]).toMatch(/fv\.asm:10\tout dx, al/);
    expect(s.run('info registers eax esi edx')).toEqual([
      'eax            0x2badb048         732803144', 'esi            0x100039           1048633', 'edx            0x3f8              1016']);
    expect(s.run('stepi 3')[1]).toMatch(/<start.next>:\tlodsb/);
    expect(s.console()).toBe('H');
    expect(s.run('x/2i $pc')).toEqual(['=> 0x00100029 <start.next>:\tlodsb', '   0x0010002a <start.next+0x1>:\tout dx,al']);
    expect(s.run('x/4xb message')).toEqual(['0x00100038 <message>:\t0x48\t0x65\t0x6c\t0x6c']);
    expect(s.run('x/s message')[0]).toContain('Hello from a full-virtualized guest');
    expect(s.run('info registers eflags')[0]).toMatch(/eflags\s+0x\w+\s+\[ .*IOPL=0 \]/);
  });

  it('conditional, temporary and file:line breakpoints, then the guest ends', () => {
    const s = session(HELLO, mode);
    s.run('break guests/hello/fv.asm:10 if al == 0x66');
    const stop = s.run('c');
    expect(stop[0]).toBe('Breakpoint 1, start.next+0x1');
    expect(s.dbg.evaluate('$al')).toBe(0x66); // 'f' of "full"
    expect(s.console()).toBe('Hello ');
    s.run('delete');
    s.run('tbreak *0x10002a');
    s.run('c');
    expect(s.console()).toBe('Hello f');
    expect(s.dbg.breakpoints).toHaveLength(0);
    s.run('break -phys 0x100033'); // mov al, 0
    expect(s.run('c')[0]).toBe('Breakpoint 3, start.next+0xa');
    expect(s.console()).toBe('Hello from a full-virtualized guest: every byte is an OUT to the UART.\n');
    expect(s.run('c')[0]).toMatch(/exited with status 1/);
  });

  it('changes registers and memory with set, finish and until', () => {
    const s = session(HELLO, mode);
    s.run('break start.next');
    s.run('c');
    s.run('set *(char*)0x100039 = 0x4a'); // "Hello" -> "HJllo"
    s.run('set $esi = message');
    s.run('delete');
    s.run('until *0x100033');
    expect(s.console()).toBe('HJllo from a full-virtualized guest: every byte is an OUT to the UART.\n');
    expect(s.dbg.pc()).toBe(0x100033);
  });

  it('a watchpoint stops at the writing instruction', () => {
    const s = session(HELLO, mode);
    s.run('break start.next');
    s.run('c');
    s.run('delete 1');
    expect(s.run('rwatch *(char*)0x10003a')[0]).toBe('Hardware read watchpoint 2: *(char*)0x10003a');
    const stop = s.run('c');
    expect(stop[1]).toBe('read of 1 byte at 0x0010003a by the instruction at 0x00100029 <start.next>: file guests/hello/fv.asm, line 9.');
    expect(stop[2]).toBe('Value = 0x6c');
    expect(stop.at(-1)).toMatch(/<start.next\+0x1>:\tout dx,al/);
    expect(s.dbg.evaluate('$al')).toBe(0x6c);
  });
});

describe('debugger under the hypervisor', () => {
  it('catch exit io stops at the UART write with its qualification', () => {
    const s = session(HELLO, 'vm');
    s.run('catch exit io');
    const stop = s.run('c');
    expect(stop[0]).toBe('Catchpoint 1 (exit IO_INSTRUCTION), reason 30: out port 0x03f8 size 1 value 0x48');
    expect(stop[1]).toBe('exited at 0x0010002a <start.next+0x1>: file guests/hello/fv.asm, line 10. (instruction length 1, qualification 0x03f80000); the hypervisor completed it');
    expect(s.console()).toBe('H');
    s.run('c');
    expect(s.console()).toBe('He');
    expect(s.run('info exits 2').map((l) => l.replace(/^#\s*\d+ /, ''))).toEqual([
      'IO_INSTRUCTION     at 0x0010002a <start.next+0x1> out port 0x03f8 size 1 value 0x48',
      'IO_INSTRUCTION     at 0x0010002a <start.next+0x1> out port 0x03f8 size 1 value 0x65']);
    s.run('delete');
    s.run('break start.next');
    s.run('c');
    s.run('stepi 3');
    // Only the guest's own exits are counted: the debugger's stops are not.
    expect(s.dbg.exitCounts(s.dbg.current.vm!)).toEqual(new Map([[30, 3]]));
  });

  it('walks a linear address through guest paging and EPT to host-physical', () => {
    const s = session(HELLO, 'vm');
    const vm = s.dbg.current.vm!;
    const lines = s.run('info translate message');
    expect(lines[0]).toBe('linear 0x00100038: guest paging off (identity)');
    expect(lines[1]).toBe('  -> guest-physical 0x00100038');
    expect(lines[3]).toMatch(/^ {2}PML4E/);
    expect(lines[6]).toMatch(/^ {2}PTE .*\[R W X/);
    expect(lines[7]).toBe(`  -> host-physical 0x${(vm.ram.hostBase + 0x100038).toString(16).padStart(8, '0')}`);
    expect(s.run('info vmcs GUEST_RIP')).toEqual(['GUEST_RIP                            0x100020']);
    expect(s.run('info vms')[0]).toMatch(/^\* 0 guest\s+runnable\s+pc=0x00100020 <start>/);
  });

  it('stepping is invisible to the guest: same output and instruction count as a plain run', () => {
    const s = session(HELLO, 'vm');
    for (let i = 0; i < 50; i++) s.run('si');
    s.run('c');
    const plain = session(HELLO, 'vm');
    plain.run('c');
    expect(s.console()).toBe(plain.console());
    expect(s.dbg.current.retired()).toBe(plain.dbg.current.retired());
  });
});

const SLEEPER = 'test/hypervisor/multi/sleeper.asm';
const PAGING = 'test/kernels/paging.asm';

describe.each(['bare', 'vm'] as const)('debugger on a guest with interrupts and memory writes (%s)', (mode) => {
  it('a write watchpoint stops right after the writing instruction, with old and new values', () => {
    const s = session(SLEEPER, mode);
    const ticks = s.dbg.symbols.lookup('ticks')!, timer = s.dbg.symbols.lookup('timer')!;
    expect(s.run('watch *(int*)ticks')[0]).toBe('Hardware watchpoint 1: *(int*)ticks');
    const stop = s.run('continue');
    expect(stop[1]).toBe(`write of 4 bytes at 0x${ticks.toString(16).padStart(8, '0')} by the instruction at 0x${(timer + 1).toString(16).padStart(8, '0')} <timer+0x1>: file test/hypervisor/multi/sleeper.asm, line 49.`);
    expect(stop.slice(2, 4)).toEqual(['Old value = 0x0', 'New value = 0x1']);
    expect(stop.at(-1)).toMatch(/^=> 0x[0-9a-f]+ <timer\+0x7>:\tmov al,0x20$/);
    expect(s.run('continue').slice(2, 4)).toEqual(['Old value = 0x1', 'New value = 0x2']);
    // A read-only access to the same word (cmp in the wait loop) does not stop a write watchpoint:
    // both stops above were at the INC in the handler.
    expect(s.dbg.watchpoints[0]!.hits).toBe(2);
  });

  it('catch interrupt stops at the handler of the timer interrupt (the PIC\'s on the bare machine, injected under the hypervisor)', () => {
    const s = session(SLEEPER, mode);
    expect(s.run('catch interrupt 0x20')).toEqual(['Catchpoint 1 (interrupt 0x20)']);
    const stop = s.run('c');
    expect(stop[0]).toMatch(/^Catchpoint 1 \(interrupt 0x20\) delivered at 0x[0-9a-f]+ <start\.wait\+0x1>/); // after the HLT
    expect(stop.at(-1)).toMatch(/^=> 0x[0-9a-f]+ <timer>:\tpush eax$/);
    expect(s.dbg.evaluate('*(int*)ticks')).toBe(0);
    s.run('nexti'); s.run('nexti');
    expect(s.dbg.evaluate('*(int*)ticks')).toBe(1);
    expect(s.run('info idt 0x21').at(-1)).toMatch(/^vector 32 +interrupt gate 0x0008:0x[0-9a-f]+ <timer> dpl=0$/);
    expect(s.run('info tss')[0]).toMatch(/^tr 0x0028 base=0x[0-9a-f]+ limit=0x[0-9a-f]+ link=0x0000$/);
  });

  it('nexti steps over a call, finish runs to the return', () => {
    const s = session(SLEEPER, mode);
    s.run('stepi');
    expect(s.run('x/i $pc')[0]).toMatch(/call serial_init/);
    const after = s.dbg.pc() + 5;
    s.run('nexti');
    expect(s.dbg.pc()).toBe(after);
    expect(s.run('x/i $pc')[0]).toMatch(/call system_init/);
    s.run('stepi');
    expect(s.dbg.pc()).toBe(s.dbg.symbols.lookup('system_init'));
    s.run('finish');
    expect(s.dbg.pc()).toBe(after + 5);
  });
});

describe('debugger under the hypervisor: paging, several VMs, trace, hypercalls', () => {
  it('walks guest paging and then EPT, entry by entry, without setting accessed bits', () => {
    const s = session(PAGING, 'vm');
    const vm = s.dbg.current.vm!;
    s.run('break paging_on');
    s.run('c');
    s.run('finish'); // paging is on from here
    const pdeBefore = s.dbg.evaluate('*(int*)0x300008');
    const lines = s.run('info translate 0x800123');
    expect(lines.slice(0, 4)).toEqual([
      'linear 0x00800123: guest paging CR3=0x00300000',
      `  PDE    at guest-physical 0x00300008 = 0x00303007 [P W U]`,
      `  PTE    at guest-physical 0x00303000 = 0x00501007 [P W U]`,
      '  -> guest-physical 0x00501123',
    ]);
    // Then the EPT: each entry names the host frame of the next table, the last the guest page's frame.
    const ept = lines.slice(5, 9).map((l) => /at host-physical 0x([0-9a-f]+) = 0x([0-9a-f]+)/.exec(l)!.slice(1).map((h) => parseInt(h, 16)));
    for (let i = 0; i < 3; i++) expect(ept[i + 1]![0]! & ~0xfff).toBe(ept[i]![1]! & ~0xfff);
    expect(ept[3]![1]! & ~0xfff).toBe(vm.ram.hostBase + 0x501000);
    expect(lines[9]).toBe(`  -> host-physical 0x${(vm.ram.hostBase + 0x501123).toString(16).padStart(8, '0')}`);
    expect(s.run('info ept 0x501123')).toEqual(lines.slice(4));
    expect(s.dbg.evaluate('*(int*)0x300008')).toBe(pdeBefore); // the walk set no accessed bit
    expect(s.run('x/xw 0x800000')).toEqual(['0x00800000:\t0x22222222']); // FRAME_B, through the guest's paging
    expect(s.run('xp/xw 0x501000')).toEqual(['0x00501000:\t0x22222222']);
    expect(s.run('info translate 0x1000000')[2]).toBe('  -> not present (PDE)');
  });

  it('several VMs: info vms, vm N, breakpoints per VM', () => {
    const s = session([HELLO, HELLO], 'vm');
    expect(s.run('info vms')).toEqual([
      '* 0 guest        runnable           pc=0x00100020 <start> instructions=0 (0.0%) exits=0 weight=1 vruntime=0',
      '  1 guest1       runnable           pc=0x00100020 <start> instructions=0 (0.0%) exits=0 weight=1 vruntime=0',
    ]);
    s.run('break *0x10002a vm 1 if $al == 0x6c');
    expect(s.run('c')[0]).toBe('Breakpoint 1, start.next+0x1');
    expect(s.dbg.current.id).toBe(1);
    expect(s.console(1)).toBe('He');
    // VM 0 ran first, through the same address 71 times, and was never stopped there.
    expect(s.console(0)).toBe('Hello from a full-virtualized guest: every byte is an OUT to the UART.\n');
    expect(s.dbg.breakpoints[0]!.hits).toBe(1);
    expect(s.run('info vms')).toEqual([
      // vruntime: instructions plus the scheduler's charge for each exit, over the weight
      '  0 guest        exited with status 1 pc=0x00100037 <start.next+0xe> instructions=288 (96.3%) exits=72 weight=1 vruntime=36288',
      '* 1 guest1       runnable           pc=0x0010002a <start.next+0x1> instructions=11 (3.7%) exits=2 weight=1 vruntime=1511',
    ]);
    expect(s.run('vm 0')).toEqual(['[Switching to VM 0 (guest)]']);
    expect(s.run('info registers eip')[0]).toMatch(/^eip +0x100037 /);
    expect(s.run('stepi')).toEqual(['[guest] exited with status 1']); // this one is done
    s.run('delete');
    s.run('c'); // the other one runs on
    expect(s.console(1)).toBe(s.console(0));
    expect(() => s.run('vm 7')).toThrow('no VM 7 (see info vms)');
  });

  it('trace on FILE: every instruction as it executes, with the exits in between', () => {
    const s = session(HELLO, 'vm');
    const file = join(mkdtempSync(join(tmpdir(), 'tv-trace-')), 'trace.txt');
    expect(s.run(`trace on ${file}`)).toEqual([`tracing instructions and exits to ${file}`]);
    s.run('break *0x10002b');
    s.run('c');
    s.run('stepi');
    s.run('trace off');
    s.run('c');
    expect(readFileSync(file, 'utf8').split('\n')).toEqual([
      '0x00100020 <start>:\tmov esi,0x100038',
      '0x00100025 <start+0x5>:\tmov dx,0x3f8',
      '0x00100029 <start.next>:\tlodsb',
      '0x0010002a <start.next+0x1>:\tout dx,al',
      '-- exit IO_INSTRUCTION at 0x0010002a: out port 0x03f8 size 1 value 0x48',
      '0x0010002b <start.next+0x2>:\tcmp esi,0x10007f',
      '',
    ]);
  });

  it('catch hypercall stops at the PV guest\'s CONSOLE_WRITE', () => {
    const s = session('guests/hello/pv.img', 'vm');
    s.run('catch hypercall');
    const stop = s.run('c');
    expect(stop[0]).toMatch(/^Catchpoint 1 \(exit VMCALL\), reason 18: hypercall \d+$/);
    expect(s.console()).toMatch(/^Hello/);
    expect(s.run('info exit-counts')).toContain('VMCALL                      1');
  });

  it('reverse commands say so when no time-travel engine is attached', () => {
    const s = session(HELLO, 'bare');
    expect(() => s.run('reverse-stepi')).toThrow(/does not support reverse execution/);
    expect(s.run('help').join('\n')).toContain('catch exit [REASON]');
  });
});

describe('debugger commands laid out as GDB lays them out', () => {
  it('numbers print\'s values $1, $2, $3 ... through the session, as GDB\'s value history does', () => {
    const s = session(HELLO, 'bare');
    expect(s.run('print 1')).toEqual(['$1 = 1']);
    expect(s.run('print/x 255')).toEqual(['$2 = 0xff']);
    expect(() => s.run('print $nosuch + 1')).toThrow(); // a failed print records nothing
    expect(s.run('p $eip')).toEqual([`$3 = ${0x100020}`]);
  });

  it('$N, $, $$ and $$N name earlier values in every expression, with GDB\'s errors; registers keep their $ names', () => {
    const s = session(HELLO, 'bare');
    expect(() => s.run('print $')).toThrow('The history is empty.');
    expect(() => s.run('print $$')).toThrow('History does not go back to $$1.');
    expect(() => s.run('print $1')).toThrow('History has not yet reached $1.');
    expect(() => s.run('print')).toThrow('The history is empty.');
    expect(s.run('print message + 1')).toEqual([`$1 = ${0x100039}`]);
    expect(s.run('print/x 0x6c')).toEqual(['$2 = 0x6c']); // 'l'
    expect(s.run('print $1 + $')).toEqual([`$3 = ${0x100039 + 0x6c}`]);
    expect(s.run('print $$2')).toEqual([`$4 = ${0x100039}`]); // two back from $3, the last before this print
    expect(s.run('print/x $$')).toEqual(['$5 = 0x1000a5']); // $3
    expect(s.run('print/x $$0')).toEqual(['$6 = 0x1000a5']); // $$0 is $
    expect(s.run('print/x')).toEqual(['$7 = 0x1000a5']); // print alone shows $ again
    expect(() => s.run('print $$7')).toThrow('History does not go back to $$7.');
    expect(() => s.run('print $9 + 1')).toThrow('History has not yet reached $9.');
    expect(s.run('print $eip - $pc + $sp - $esp + $al - $eax % 256')).toEqual(['$8 = 0']);
    // x, set (registers and memory), break locations and conditions all read the history.
    expect(s.run('x/2xb $1')).toEqual(['0x00100039 <message+0x1>:\t0x65\t0x6c']);
    s.run('set var $esi = $1');
    expect(s.dbg.evaluate('$esi')).toBe(0x100039);
    s.run('set *(char*)$4 = $2'); // "Hello" -> "Hlllo"
    expect(s.run('x/s message')[0]).toMatch(/"Hlllo from/);
    expect(() => s.run('set var $2 = 5')).toThrow('Left operand of assignment is not a modifiable lvalue.');
    expect(s.run('print start.next + 1')).toEqual([`$9 = ${0x10002a}`]);
    s.run('break *$9 if $al == $2');
    expect(s.run('continue')[0]).toBe('Breakpoint 1, start.next+0x1');
    expect(s.console()).toBe('H'); // the first 'l' (the patched 'e') is the first al == 0x6c
    expect(s.dbg.evaluate('$al == $2')).toBe(1);
  });

  it('a breakpoint condition that cannot be evaluated stops with GDB\'s "Error in testing condition for breakpoint N:"; one that does not parse is refused', () => {
    const s = session(HELLO, 'bare');
    // GDB parses a condition when the breakpoint is set: a syntax error or an unknown symbol refuses the breakpoint.
    expect(() => s.run('break *0x10002b if $nosuch +')).toThrow("A syntax error in expression, near `'.");
    expect(() => s.run('break *0x10002b if nosuch == 1')).toThrow('No symbol "nosuch" in current context.');
    expect(s.dbg.breakpoints).toHaveLength(0);
    s.run('break *0x10002a if $nosuch'); // void is false: never stops
    s.run('break *0x10002b if $nosuch + 1'); // arithmetic on void fails each time it is evaluated
    expect(s.run('continue')).toEqual([
      'Error in testing condition for breakpoint 2:',
      'Argument to arithmetic operation not a number or boolean.',
      'Breakpoint 2, start.next+0x2',
      'guests/hello/fv.asm:11\tcmp esi, message_end',
      '=> 0x0010002b <start.next+0x2>:\tcmp esi,0x10007f',
    ]);
    expect(s.console()).toBe('H'); // through breakpoint 1's OUT without stopping
    expect(s.dbg.breakpoints.map((b) => b.hits)).toEqual([0, 1]);
    s.run('delete');
    s.run('break *0x10002b if *(int*)0xfffffff0 == 0x48'); // unreadable
    expect(s.run('continue').slice(0, 3)).toEqual(['Error in testing condition for breakpoint 3:', 'Cannot access memory at address 0xfffffff0', 'Breakpoint 3, start.next+0x2']);
    expect(s.console()).toBe('He');
    s.run('delete');
    // && evaluates its right side only when the left is true, so the unreadable read fails at the 'o' alone.
    s.run('break *0x10002b if $al == 0x6f && *(int*)0xfffffff0 == 0');
    expect(s.run('continue').slice(0, 3)).toEqual(['Error in testing condition for breakpoint 4:', 'Cannot access memory at address 0xfffffff0', 'Breakpoint 4, start.next+0x2']);
    expect(s.console()).toBe('Hello');
    s.run('delete');
    s.run('break *0x10002b if 1 / ($al - 0x20)'); // the space after "Hello"
    expect(s.run('continue').slice(0, 2)).toEqual(['Error in testing condition for breakpoint 5:', 'Division by zero']);
    expect(s.console()).toBe('Hello ');
  });

  it('--json: the condition\'s error is the stop\'s conditionError, and void prints with a null value', async () => {
    const r = await debug([HELLO_ASM], { json: true, ex: ['break *0x10002b if $nosuch + 1', 'continue', 'print $nosuch', 'break *0x10002b if $nosuch +'] });
    const records = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(records[1]).toMatchObject({
      command: 'continue', ok: true,
      output: ['Error in testing condition for breakpoint 1:', 'Argument to arithmetic operation not a number or boolean.', 'Breakpoint 1, start.next+0x2', expect.any(String), expect.any(String)],
      result: { stop: 'breakpoint', breakpoint: 1, conditionError: 'Argument to arithmetic operation not a number or boolean.', pc: 0x10002b },
    });
    expect(records[2]).toEqual({ command: 'print $nosuch', ok: true, output: ['$1 = void'], result: { history: 1, value: null } });
    expect(records[3]).toEqual({ command: 'break *0x10002b if $nosuch +', ok: false, error: "A syntax error in expression, near `'." });
  });

  it('a convenience variable nothing has set is void, as in GDB: printed and recorded, an error in arithmetic', () => {
    const s = session(HELLO, 'bare');
    expect(s.run('print $nosuch')).toEqual(['$1 = void']);
    expect(s.run('print/x $')).toEqual(['$2 = void']); // kept in the value history
    expect(() => s.run('print $nosuch + 1')).toThrow('Argument to arithmetic operation not a number or boolean.');
    expect(() => s.run('print 1 * $1')).toThrow('Argument to arithmetic operation not a number or boolean.');
    expect(() => s.run('print -$nosuch')).toThrow('Argument to negate operation not a number.');
    expect(() => s.run('print ~$nosuch')).toThrow('Argument to complement operation not an integer, boolean.');
    expect(() => s.run('print $nosuch == 0')).toThrow('Invalid type combination in equality test.');
    expect(() => s.run('print $nosuch < 1')).toThrow('Invalid type combination in ordering comparison.');
    expect(() => s.run('print *$nosuch')).toThrow('Attempt to take contents of a non-pointer value.');
    expect(() => s.run('print *(char*)$nosuch')).toThrow('Invalid cast.');
    expect(s.run('print $nosuch == $1')).toEqual(['$3 = 1']); // two voids are equal
    expect(s.run('print !$nosuch')).toEqual(['$4 = 1']); // and void is false
    expect(s.run('print $nosuch && 1')).toEqual(['$5 = 0']);
    expect(s.run('print $nosuch || 1')).toEqual(['$6 = 1']);
    // Where a number is needed.
    expect(() => s.run('x/xb $nosuch')).toThrow("Value can't be converted to integer.");
    expect(() => s.run('stepi $nosuch')).toThrow("Value can't be converted to integer.");
    expect(() => s.run('set var $eax = $nosuch')).toThrow('Invalid cast.');
    expect(() => s.run('set *(int*)$nosuch = 1')).toThrow('Invalid cast.');
    expect(s.run('print $eip')).toEqual([`$7 = ${0x100020}`]); // registers are not convenience variables
  });

  it('x sets $_ to the address of the last unit examined and $__ to its contents, as GDB\'s x; disassemble sets neither', () => {
    const s = session(HELLO, 'bare');
    expect(s.run('print $_')).toEqual(['$1 = void']);
    s.run('x/4xb message'); // "Hell"
    expect(s.run('print/x $_')).toEqual(['$2 = 0x10003b']);
    expect(s.run('print/x $__')).toEqual(['$3 = 0x6c']);
    s.run('x/2xw message');
    expect(s.run('print/x $_')).toEqual(['$4 = 0x10003c']);
    expect(s.run('print/x $__')).toEqual(['$5 = 0x7266206f']); // "o fr"
    expect(s.run('x/xh $_ - 2')).toEqual(['0x0010003a <message+0x2>:\t0x6c6c']); // expressions read them
    expect(s.dbg.evaluate('$__')).toBe(0x6c6c);
    // $__ is GDB's int8_t, int16_t or int32_t, whatever the format: 0xff read as a byte is -1.
    s.run('set *(char*)0x100039 = 0xff');
    s.run('x/ub 0x100039');
    expect(s.dbg.evaluate('$__ == -1')).toBe(1);
    s.run('set *(char*)0x100039 = 0x65');
    // After x/s and x/i, $_ is the last string's or instruction's address and $__ is void.
    expect(s.run('x/2s message')).toEqual(['0x00100038:\t"Hello from a full-virtualized guest: every byte is an OUT to the UART.\\n"', '0x00100080:\t""']);
    expect(s.run('print/x $_')).toEqual(['$6 = 0x100080']);
    expect(s.run('print $__')).toEqual(['$7 = void']);
    s.run('x/2i $pc');
    expect(s.run('print/x $_')).toEqual(['$8 = 0x100025']);
    s.run('disassemble start.next');
    s.run('x/0xb message');
    expect(s.run('print/x $_')).toEqual(['$9 = 0x100025']);
    expect(() => s.run('x/xw 0xfffffff0')).toThrow('Cannot access memory at address 0xfffffff0');
    expect(s.run('print/x $_')).toEqual(['$10 = 0x100025']); // a failed x sets nothing
    // A condition can use them: stop at the OUT once $al is the byte x last showed ('e').
    expect(s.run('x/cb message + 1')).toEqual(["0x00100039 <message+0x1>:\t101 'e'"]);
    s.run('break *0x10002a if $al == $__');
    s.run('continue');
    expect(s.console()).toBe('H');
  });

  // What set, print and show convenience print for convenience variables below is what GDB 13.1 prints
  // for the same commands (gdb -nx -batch -ex ...), less the variables and functions GDB defines itself
  // ($_gdb_major, $_streq, ...); registers and memory are this debugger's (32-bit unsigned, no C types).
  it('set pagination off and GDB\'s other interface settings a gdb user\'s script sets are kept and shown in GDB\'s words', () => {
    const s = session(HELLO, 'bare');
    expect(s.run('show pagination')).toEqual(['State of pagination is off.']); // this debugger never pages
    expect(s.run('set pagination on')).toEqual([]);
    expect(s.run('show pagination')).toEqual(['State of pagination is on.']);
    s.run('set pagination 0');
    expect(s.run('show pagination')).toEqual(['State of pagination is off.']);
    s.run('set confirm yes');
    expect(s.run('show confirm')).toEqual(['Whether to confirm potentially dangerous operations is on.']);
    s.run('set height 30');
    expect(s.run('show height')).toEqual(['Number of lines gdb thinks are in a page is 30.']);
    s.run('set width 0');
    expect(s.run('show width')).toEqual(['Number of characters gdb thinks are in a line is unlimited.']);
    expect(() => s.run('set confirm maybe')).toThrow('"on" or "off" expected.');
    expect(() => s.run('set height -3')).toThrow('integer -3 out of range');
    expect(() => s.run('set height')).toThrow('Argument required (integer to set it to, or "unlimited").');
    expect(s.run('print 2 + 2')).toEqual(['$1 = 4']); // nothing else changed
  });

  it('set $NAME = EXPR makes a convenience variable, as GDB\'s set; show convenience lists them newest first', () => {
    const s = session(HELLO, 'bare');
    expect(s.run('show convenience')).toEqual([
      'No debugger convenience variables now defined.',
      'Convenience variables have names starting with "$";',
      'use "set" as in "set $foo = 5" to define them.',
    ]);
    expect(s.run('set $foo = 5')).toEqual([]);
    expect(s.run('print $foo')).toEqual(['$1 = 5']);
    expect(s.run('print $foo + 1')).toEqual(['$2 = 6']);
    s.run('set var $bar = $foo * 2');
    s.run('set variable $baz = $bar');
    expect(s.run('show conv')).toEqual(['$baz = 10', '$bar = 10', '$foo = 5']);
    s.run('set $foo = 7'); // assigning again keeps its place
    expect(s.run('show convenience')).toEqual(['$baz = 10', '$bar = 10', '$foo = 7']);
    // Void can be assigned; naming a variable creates it void, even in an expression that then fails to parse.
    s.run('set $v = $nosuch');
    expect(s.run('print $v')).toEqual(['$3 = void']);
    expect(() => s.run('print $w +')).toThrow("A syntax error in expression, near `'.");
    expect(s.run('show conv').slice(0, 3)).toEqual(['$w = void', '$nosuch = void', '$v = void']);
    // C's compound assignments; arithmetic on void is still an error.
    s.run('set $n = 1');
    s.run('set $n += 2');
    expect(s.run('print $n')).toEqual(['$4 = 3']);
    s.run('set $n <<= 2');
    expect(s.run('print $n')).toEqual(['$5 = 12']);
    expect(() => s.run('set $v += 1')).toThrow('Argument to arithmetic operation not a number or boolean.');
    // Names as GDB's lexer reads them: letters, digits, _ and $; $_ and $__ are assignable too.
    s.run('set $1abc = 5');
    s.run('set $a$b = 4');
    s.run('set $_ = 9');
    s.run('set $__x = 2');
    expect(s.run('print $1abc + $a$b + $_ + $__x')).toEqual(['$6 = 20']);
    expect(s.run('show conv').slice(0, 4)).toEqual(['$__x = 2', '$_ = 9', '$a$b = 4', '$1abc = 5']);
    // Registers keep their meaning: set $eax sets the guest's register and makes no variable.
    s.run('set $eax = 0x12345678');
    s.run('set $al = 0x1ff'); // a register keeps its width
    expect(s.run('print/x $eax')).toEqual(['$7 = 0x123456ff']);
    expect(() => s.run('set $cs = 8')).toThrow("Invalid register `$cs'"); // read, but not written, here
    expect(s.run('show conv').some((l) => /^\$(eax|al|cs) /.test(l))).toBe(false);
    expect(() => s.run('show foo')).toThrow('Undefined show command: "foo".  Try "help show".');
  });

  it('print $x = 5 assigns as GDB\'s print does; the value history stays read-only and distinct', () => {
    const s = session(HELLO, 'bare');
    expect(() => s.run('set var $1 = 3')).toThrow('History has not yet reached $1.'); // GDB evaluates the left side first
    expect(s.run('print $x = 5')).toEqual(['$1 = 5']);
    expect(s.run('print $x')).toEqual(['$2 = 5']);
    expect(s.run('print $x = $y = 7')).toEqual(['$3 = 7']); // right to left
    expect(s.run('print ($z = 3) + 1')).toEqual(['$4 = 4']);
    expect(s.run('print ($x) = 4')).toEqual(['$5 = 4']);
    expect(s.run('show conv')).toEqual(['$z = 3', '$y = 7', '$x = 4']);
    expect(() => s.run('set var $1 = 3')).toThrow('Left operand of assignment is not a modifiable lvalue.');
    expect(() => s.run('print $ = 3')).toThrow('Left operand of assignment is not a modifiable lvalue.');
    expect(() => s.run('print 5 = 3')).toThrow('Left operand of assignment is not an lvalue.');
    expect(() => s.run('print $x + 1 = 3')).toThrow('Left operand of assignment is not an lvalue.');
    expect(() => s.run('print message = 3')).toThrow('Left operand of assignment is not an lvalue.'); // a label is its address
    expect(s.run('print $1')).toEqual(['$6 = 5']); // $1 is still the first value printed
    // Memory and registers through print; void goes only into a convenience variable.
    expect(s.run('print *(char*)0x100039 = 0x4a')).toEqual(['$7 = 74']); // "Hello" -> "HJllo"
    expect(s.run('x/s message')[0]).toMatch(/"HJllo from/);
    expect(s.run('print/x $esi = 0x100039')).toEqual(['$8 = 0x100039']);
    expect(() => s.run('print $eax = $nosuch')).toThrow('Invalid cast.');
    expect(() => s.run('print *(int*)0xfffffff0 = 1')).toThrow('Cannot access memory at address 0xfffffff0');
    // set without an assignment: GDB's warning, then the value or the error.
    expect(s.run('set $x == 4')).toEqual(['warning: Expression is not an assignment (and might have no effect)']);
    expect(() => s.run('set $nosuch < 5')).toThrow('warning: Expression is not an assignment (and might have no effect)\nInvalid type combination in ordering comparison.');
    expect(() => s.run('set')).toThrow('Argument required (expression to compute).');
    expect(() => s.run('set var')).toThrow('Argument required (expression to compute).');
  });

  it('a breakpoint condition reads and assigns convenience variables, as GDB\'s conditions can; setting the breakpoint assigns nothing', () => {
    const s = session(HELLO, 'bare');
    s.run('set $outs = 0');
    s.run('break *0x10002a if ($outs += 1) == 3'); // the third OUT
    expect(s.run('print $outs')).toEqual(['$1 = 0']); // parsed, not evaluated
    expect(s.run('continue')[0]).toBe('Breakpoint 1, start.next+0x1');
    expect(s.console()).toBe('He');
    expect(s.run('print $outs')).toEqual(['$2 = 3']);
    s.run('delete');
    s.run('set $stop = 0x6f'); // 'o'
    s.run('break *0x10002a if $al == $stop');
    s.run('continue');
    expect(s.console()).toBe('Hell');
  });

  it('--json: set says what it assigned, show convenience lists names and values (null for void)', async () => {
    const r = await debug([HELLO_ASM], { json: true, ex: ['show conv', 'set $foo = 5', 'set var $eax = 7', 'set *(char*)0x100039 = 0x4a', 'set $v = $nosuch', 'print $foo = 6', 'show convenience', 'set $foo == 6'] });
    const records = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(records).toEqual([
      { command: 'show conv', ok: true, output: ['No debugger convenience variables now defined.', 'Convenience variables have names starting with "$";', 'use "set" as in "set $foo = 5" to define them.'], result: [] },
      { command: 'set $foo = 5', ok: true, output: [], result: { convenience: 'foo', value: 5 } },
      { command: 'set var $eax = 7', ok: true, output: [], result: { register: 'eax', value: 7 } },
      { command: 'set *(char*)0x100039 = 0x4a', ok: true, output: [], result: { address: 0x100039, size: 1, value: 0x4a } },
      { command: 'set $v = $nosuch', ok: true, output: [], result: { convenience: 'v', value: null } },
      { command: 'print $foo = 6', ok: true, output: ['$1 = 6'], result: { history: 1, value: 6 } },
      { command: 'show convenience', ok: true, output: ['$nosuch = void', '$v = void', '$foo = 6'], result: [{ name: 'nosuch', value: null }, { name: 'v', value: null }, { name: 'foo', value: 6 }] },
      { command: 'set $foo == 6', ok: true, output: ['warning: Expression is not an assignment (and might have no effect)'], result: { value: 1 } },
    ]);
  });

  it('info breakpoints keeps GDB\'s columns, widening Type for "read watchpoint"', () => {
    const s = session(HELLO, 'bare');
    s.run('break start');
    s.run('tbreak -phys 0x100033');
    s.run('watch *(char*)0x100039');
    s.run('rwatch -phys *(char*)0x10003a');
    s.run('awatch *(short*)message');
    s.run('catch exception 13');
    expect(s.run('info breakpoints')).toEqual([
      'Num     Type            Disp Enb Address    What',
      '1       breakpoint      keep y   0x00100020 start',
      '2       pbreakpoint     del  y   0x00100033 0x100033',
      '3       hw watchpoint   keep y   0x00100039 *(char*)0x100039 (1 byte)',
      '4       read watchpoint keep y   0x0010003a *(char*)0x10003a (1 byte, physical)',
      '5       acc watchpoint  keep y   0x00100038 *(short*)message (2 bytes)',
      '6       catchpoint      keep y              exception 13',
    ]);
    s.run('delete 4');
    expect(s.run('info breakpoints')[0]).toBe('Num     Type           Disp Enb Address    What'); // GDB's default width, 14
  });

  it('help shows -phys where watch takes it, before the expression', () => {
    const s = session(HELLO, 'bare');
    const help = s.run('help').join('\n');
    expect(help).toContain('watch/rwatch/awatch [-phys] EXPR [-l LEN]');
    expect(s.run('watch -phys *(char*)0x100039')).toEqual(['Hardware watchpoint 1: *(char*)0x100039']);
    expect(s.dbg.watchpoints[0]).toMatchObject({ space: 'physical', address: 0x100039, length: 1 });
  });
});

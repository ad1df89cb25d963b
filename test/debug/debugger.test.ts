/**
 * Scripted debugger sessions over the real guests, on the bare machine and under the hypervisor:
 * stepping shows the expected instructions and source lines, breakpoints (symbol, file:line,
 * physical, temporary, conditional) stop where they should, a watchpoint stops at the writing
 * instruction, `catch exit io` stops at the UART write with its qualification, the EPT walk shows
 * the VM's frames, and being attached changes nothing the guest can see.
 */
import { describe, expect, it } from 'vitest';
import { session } from './session.js';

const HELLO = 'guests/hello/fv.img';

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

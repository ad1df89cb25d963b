/**
 * The GDB remote protocol server: its answers packet by packet (target description, registers,
 * memory, points, threads, monitor commands, the symbol ELF over vFile), Ctrl-C stopping a guest
 * that never stops, garbage and abrupt disconnects never crashing it or running the guest, and the
 * real `gdb` attaching with nothing but `target remote`.
 */
import { connect, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { closeGdbServer, startGdbServer, TARGET_XML } from '../../hypervisor/debug/gdb-server.js';
import { client, frame, hasGdb, realGdb, sleep } from './gdb-client.js';
import { session } from './session.js';

const HELLO = 'guests/hello/fv.img';
const SPIN = 'test/hypervisor/multi/spin.asm';

const fromHex = (h: string): string => Buffer.from(h, 'hex').toString('latin1');

describe('GDB server protocol', () => {
  it('describes an i386 with its registers, and reads registers and memory', async () => {
    const s = session(HELLO, 'vm');
    const { ask } = client(s);
    const supported = await ask('qSupported:multiprocess+;swbreak+;xmlRegisters=i386');
    expect(supported).toMatch(/PacketSize=4000;qXfer:features:read\+;qXfer:exec-file:read\+;swbreak\+;hwbreak\+;vContSupported\+/);
    // The whole description, read in chunks as GDB does.
    let xml = '';
    for (let off = 0; ; off += 0x100) {
      const r = await ask(`qXfer:features:read:target.xml:${off.toString(16)},100`);
      xml += r.slice(1);
      if (r[0] === 'l') break;
      expect(r[0]).toBe('m');
    }
    expect(xml).toBe(TARGET_XML);
    expect(xml).toContain('<architecture>i386</architecture>');
    expect(xml.match(/<reg /g)).toHaveLength(36); // 16 + 16 x87 + 4 control registers
    expect(await ask('qXfer:features:read:other.xml:0,100')).toBe('E00');

    const g = await ask('g');
    expect(g).toHaveLength(16 * 8);
    expect(g.slice(0, 8)).toBe('02b0ad2b'); // eax = the Multiboot magic
    expect(g.slice(8 * 8, 9 * 8)).toBe('20001000'); // eip = 0x100020
    expect(g.slice(10 * 8, 11 * 8)).toBe('08000000'); // cs
    expect(await ask('p8')).toBe('20001000');
    expect(await ask('p10')).toBe('x'.repeat(20)); // st0: no FPU, unavailable
    expect(await ask('p22')).toBe('00000000'); // cr3 (register 34)
    expect(await ask('p24')).toBe('E01');
    expect(await ask('m100038,5')).toBe('48656c6c6f');
    expect(await ask('m0,ffffffff')).toHaveLength(0x1000 * 2); // clamped to one page, as the protocol allows
    expect(await ask('mffffff00,10')).toBe('E14'); // beyond the VM's memory
    expect(await ask('P0=01000000')).toBe('OK');
    expect(s.dbg.evaluate('$eax')).toBe(1);
    expect(await ask('Pa=08000000')).toBe('OK'); // cs unchanged: accepted
    expect(await ask('Pa=10000000')).toBe('E01'); // a selector alone cannot be loaded
    expect(await ask('M100039,1:4a')).toBe('OK');
    expect(await ask('X10003a,2:}]z')).toBe('OK'); // '}' escapes: 0x7d ^ 0x20 = ']' -> '}'
    expect(await ask('m100038,4')).toBe('484a7d7a');
  });

  it('breaks, steps, watches, reports threads and answers monitor commands', async () => {
    const s = session(HELLO, 'vm');
    const { ask } = client(s);
    expect(await ask('Z0,100029,1')).toBe('OK');
    expect(await ask('c')).toBe('T05thread:1;swbreak:;');
    expect(s.dbg.pc()).toBe(0x100029);
    expect(await ask('?')).toBe('T05thread:1;swbreak:;');
    expect(await ask('vCont?')).toBe('vCont;c;C;s;S');
    expect(await ask('vCont;s:1;c')).toBe('T05thread:1;');
    expect(s.dbg.pc()).toBe(0x10002a);
    expect(await ask('z0,100029,1')).toBe('OK');
    expect(await ask('Z1,10002b,1')).toBe('OK');
    expect(await ask('c')).toBe('T05thread:1;hwbreak:;');
    expect(await ask('z1,10002b,1')).toBe('OK');
    // A read watchpoint on 'l' (0x10003a): it stops after the LODSB that read it.
    expect(await ask('Z3,10003a,1')).toBe('OK');
    expect(await ask('vCont;c')).toBe('T05thread:1;rwatch:10003a;');
    expect(s.console()).toBe('He');
    expect(s.dbg.pc()).toBe(0x10002a);
    const monitor = async (cmd: string): Promise<string> => fromHex(await ask(`qRcmd,${Buffer.from(cmd).toString('hex')}`));
    expect(await monitor('vmcs GUEST_RIP')).toBe('GUEST_RIP                            0x10002a\n');
    expect(await monitor('exits 1')).toMatch(/IO_INSTRUCTION +at 0x0010002a <start.next\+0x1> out port 0x03f8 size 1 value 0x65/);
    const ept = (await monitor('ept 0x100000')).split('\n');
    expect(ept[0]).toMatch(/^guest-physical 0x00100000: EPT \(EPTP=0x[0-9a-f]+\)$/);
    expect(ept[5]).toBe(`  -> host-physical 0x${(s.dbg.current.vm!.ram.hostBase + 0x100000).toString(16).padStart(8, '0')}`);
    expect(await monitor('translate 0x100038')).toContain('-> guest-physical 0x00100038');
    expect(await monitor('help')).toContain('monitor ept GPA');
    expect(await monitor('continue')).toMatch(/unknown monitor command 'continue'/);
    expect(s.dbg.pc()).toBe(0x10002a); // nothing ran
    expect(await ask('D')).toBe('OK');
    expect(s.dbg.breakpoints).toHaveLength(0);
    expect(s.dbg.watchpoints).toHaveLength(0);
  });

  it('reports how a guest ended: W with its exit status, X0b (SIGSEGV) for a triple fault', async () => {
    for (const mode of ['vm', 'bare'] as const) {
      const hello = client(session(HELLO, mode));
      expect(await hello.ask('c'), mode).toBe('W01'); // isa-debug-exit with 0: status 1
      const triple = client(session('test/kernels/triple.asm', mode));
      expect(await triple.ask('c'), mode).toBe('X0b');
    }
  });

  it('shows each VM as a thread', async () => {
    const s = session([HELLO, HELLO], 'vm');
    const { ask } = client(s);
    expect(await ask('qfThreadInfo')).toBe('m1,2');
    expect(await ask('qsThreadInfo')).toBe('l');
    expect(fromHex(await ask('qThreadExtraInfo,2'))).toBe('VM 1 guest1: runnable');
    expect(await ask('Z0,10002a,1')).toBe('OK');
    const stop = await ask('c');
    const stopped = s.dbg.targets.indexOf(s.dbg.current) + 1, other = s.dbg.targets[2 - stopped]!;
    expect(stop).toBe(`T05thread:${stopped};swbreak:;`);
    expect(await ask('qC')).toBe(`QC${stopped}`);
    expect((await ask('g')).slice(64, 72)).toBe('2a001000');
    expect(await ask(`Hg${3 - stopped}`)).toBe('OK');
    expect((await ask('g')).slice(64, 72)).toBe(le32(other.eip));
    expect(await ask('qC')).toBe(`QC${3 - stopped}`);
    expect(await ask('Hg9')).toBe('E01');
    expect(await ask('T9')).toBe('E01');
    expect(await ask('T2')).toBe('OK');
  });

  it('hands GDB an ELF with the image\'s labels over vFile', async () => {
    const s = session(HELLO, 'vm');
    const { ask } = client(s);
    const path = (await ask('qXfer:exec-file:read::0,100')).slice(1);
    expect(path).toBe('/trapvisor/guest.elf');
    expect(await ask('vFile:setfs:0')).toBe('F0');
    expect(await ask(`vFile:open:${Buffer.from('/etc/passwd').toString('hex')},0,0`)).toBe('F-1,2');
    const fd = (await ask(`vFile:open:${Buffer.from(path).toString('hex')},0,0`)).slice(1);
    expect(await ask(`vFile:open:${Buffer.from(path).toString('hex')},1,0`)).toBe('F-1,d'); // read-only
    const stat = await ask(`vFile:fstat:${fd}`);
    expect(stat.startsWith('F40;')).toBe(true);
    const head = await ask(`vFile:pread:${fd},4,0`);
    expect(head).toBe('F4;\x7fELF');
    expect(await ask(`vFile:close:${fd}`)).toBe('F0');
    expect(await ask(`vFile:pread:${fd},4,0`)).toBe('F-1,9');
  });

  it('Ctrl-C stops a guest that never stops; packets sent meanwhile are answered after', async () => {
    const s = session(SPIN, 'vm');
    const { gdb, replies } = client(s);
    gdb.receive(frame('c'));
    while (s.dbg.current.retired() < 1_000_000) await sleep(1);
    expect(gdb.busy).toBe(true);
    gdb.receive(frame('g') + '\x03');
    for (let i = 0; i < 5000 && replies().length < 2; i++) await sleep(1);
    expect(replies()[0]).toBe('T02thread:1;');
    expect(replies()[1]!.slice(0, 8)).toBe(le32(s.dbg.evaluate('$eax'))); // the 'g' sent while it ran
    const at = s.dbg.current.retired();
    await sleep(20);
    expect(s.dbg.current.retired()).toBe(at);
    expect(s.run('x/i $pc')[0]).toMatch(/<start.spin(\+0x1)?>/);
  });

  it('survives garbage, bad checksums and huge lengths with the guest left stopped', async () => {
    const s = session(HELLO, 'vm');
    const { gdb, sent, ask } = client(s);
    expect(await ask('Z0,100029,1')).toBe('OK');
    expect(await ask('c')).toBe('T05thread:1;swbreak:;');
    const before = s.dbg.current.retired();
    sent.length = 0;
    gdb.receive('$g#00');
    expect(sent).toEqual(['-']); // NAK: GDB resends
    let seed = 12345;
    const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
    const alphabet = 'mMgGpPXZzvqQHTDbc?,:;#$}*0123456789abcdefxyzK\x03+-';
    for (let i = 0; i < 3000; i++) {
      let body = '';
      const len = rand(40);
      for (let k = 0; k < len; k++) body += alphabet[rand(alphabet.length)]!;
      // No resuming, detaching or killing packets: those legitimately run or end the session.
      if (/^(c|C|s|S|vCont;|D|k|vKill|b)/.test(body)) continue;
      gdb.receive(rand(4) === 0 ? body : rand(2) ? frame(body) : `$${body}#zz`);
    }
    gdb.receive(frame('M100000,ffffffff:00'));
    gdb.receive(frame('Z2,100000,ffffffff'));
    gdb.receive('$' + 'a'.repeat(100_000));
    gdb.receive('#00' + frame('m100038,1'));
    expect(s.dbg.current.retired()).toBe(before);
    expect(gdb.busy).toBe(false);
    expect(await ask('?')).toBe('T05thread:1;swbreak:;');
    expect(await ask('m100038,2')).toBe('4865');
    expect(s.dbg.pc()).toBe(0x100029);
  });

  it('an abrupt disconnect mid-run stops the guest; the server takes the next client', async () => {
    const s = session(SPIN, 'vm');
    const server = await startGdbServer(s.dbg, s.cli, 0, () => {});
    const port = (server.address() as AddressInfo).port;
    try {
      const first = connect(port, '127.0.0.1');
      await new Promise((r) => first.once('connect', r));
      first.write(frame('c'));
      while (s.dbg.current.retired() < 500_000) await sleep(1);
      first.destroy();
      // The server notices at the end of the current slice; from then on the guest stays put.
      let at = -1;
      for (let i = 0; i < 200 && s.dbg.current.retired() !== at; i++) { at = s.dbg.current.retired(); await sleep(20); }
      await sleep(50);
      expect(s.dbg.current.retired()).toBe(at);
      const second = connect(port, '127.0.0.1');
      let got = '';
      second.on('data', (d) => { got += d.toString('latin1'); });
      await new Promise((r) => second.once('connect', r));
      second.write(frame('?'));
      for (let i = 0; i < 2000 && !got.includes('#'); i++) await sleep(1);
      expect(got).toBe(`+${frame('T05thread:1;')}`);
      second.destroy();
    } finally {
      closeGdbServer(server);
    }
  });
});

const le32 = (v: number): string => Buffer.from(Uint32Array.of(v).buffer).toString('hex');

const why = hasGdb ? '' : ' (skipped: gdb is not installed here; apt-get install gdb)';

describe('the real gdb', () => {
  it.skipIf(!hasGdb)(`attaches with target remote alone, breaks on a symbol, reads, steps, watches and detaches${why}`, async () => {
    const s = session(HELLO, 'vm');
    const out = await realGdb(s, (port) => [
      `target remote 127.0.0.1:${port}`, 'break start.next', 'continue', 'info registers eip', 'x/5xb &message',
      'stepi', 'x/i $pc', 'rwatch *(char*)0x10003a', 'delete 1', 'continue', 'print/x $al', 'info registers cr0',
      'monitor exits 1', 'monitor vmcs GUEST_RIP', 'detach',
    ]);
    expect(out).toContain('Reading symbols from target:/trapvisor/guest.elf');
    expect(out).not.toMatch(/set architecture|not supported|Remote 'g' packet reply/);
    expect(out).toMatch(/Breakpoint 1 at 0x100029/);
    // GDB's demangler shows start.next as start[next] (set demangle-style none keeps the dot).
    expect(out).toMatch(/Breakpoint 1, 0x00100029 in start(\.next|\[next\]) \(\)/);
    expect(out).toMatch(/eip\s+0x100029\s+0x100029 <start(\.next|\[next\])>/);
    expect(out).toMatch(/0x100038 <message>:\s+0x48\s+0x65\s+0x6c\s+0x6c\s+0x6f/);
    expect(out).toMatch(/=> 0x10002a <start.next\+1>:\s+out\s+%al,\(%dx\)/);
    expect(out).toMatch(/Hardware read watchpoint 2: \*\(char\*\)0x10003a/);
    expect(out).toMatch(/Value = 108 'l'/);
    expect(out).toMatch(/\$1 = 0x6c/);
    expect(out).toMatch(new RegExp(`cr0\\s+0x${s.dbg.evaluate('$cr0').toString(16)}\\s`)); // as the guest sees it (read shadow)
    expect(s.dbg.evaluate('$cr0') & 0x11).toBe(0x11); // PE and ET, as the Multiboot loader leaves them
    expect(out).toMatch(/IO_INSTRUCTION +at 0x0010002a <start.next\+0x1> out port 0x03f8 size 1 value 0x65/);
    expect(out).toMatch(/GUEST_RIP +0x10002a/);
    expect(out).toMatch(/Inferior 1 \(Remote target\) detached/);
    expect(s.console()).toBe('He');
    expect(s.dbg.breakpoints).toHaveLength(0); // the client's points went with it
    expect(s.dbg.pc()).toBe(0x10002a); // and the guest stays where it was
  });

  it.skipIf(!hasGdb)(`interrupts a running guest with Ctrl-C${why}`, async () => {
    const s = session(SPIN, 'vm');
    const out = await realGdb(s, (port) => [`target remote 127.0.0.1:${port}`, 'continue', 'print $eax > 100000', 'x/i $pc', 'detach'], async (gdb) => {
      while (s.dbg.current.retired() < 2_000_000) await sleep(5);
      gdb.kill('SIGINT');
    });
    expect(out).toMatch(/Program received signal SIGINT, Interrupt\./);
    expect(out).toMatch(/\$1 = 1/);
    expect(out).toMatch(/=> 0x10002[34] <start.spin(\+1)?>/);
    expect(out).toMatch(/detached/);
  });
});

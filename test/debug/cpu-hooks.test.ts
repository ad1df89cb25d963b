/**
 * The CPU's debugger hooks (breakAt/onBreak, breakEvery, onDataAccess, breakPending): they stop
 * at exact instruction boundaries on both engines and under the hypervisor, and a run with hooks
 * that never stop gives the same output and instruction count as one without.
 */
import { describe, expect, it } from 'vitest';
import { Hypervisor } from '../../hypervisor/hypervisor.js';
import { bootBare, ENGINES, guestBinary } from '../guests/boot-guest.js';

const HELLO = 'guests/hello/fv.img';
const NEXT = 0x100029; // start.next: lodsb
const OUT = 0x10002a; // out dx, al
const MESSAGE = 0x100038;
const MESSAGE_LENGTH = 71;

describe.each(ENGINES)('CPU debugger hooks (%s)', (engine) => {
  it('a breakpoint that never stops sees every pass and changes nothing', () => {
    const plain = bootBare(guestBinary(HELLO), engine);
    const run = bootBare(guestBinary(HELLO), engine, 0);
    const cpu = run.machine.cpu;
    let hits = 0;
    cpu.breakAt.add(NEXT);
    cpu.onBreak = (lin) => { expect(lin).toBe(NEXT); hits++; return false; };
    cpu.updateDebugHooks();
    const stop = run.machine.run(1_000_000);
    expect(stop).toEqual(plain.stop);
    expect(hits).toBe(MESSAGE_LENGTH);
    expect(cpu.icount).toBe(plain.instructions);
  });

  it('stops before the instruction at a breakpoint, and data accesses are seen', () => {
    const run = bootBare(guestBinary(HELLO), engine, 0);
    const { machine } = run;
    const cpu = machine.cpu;
    cpu.breakAt.add(OUT);
    cpu.onBreak = () => true;
    cpu.updateDebugHooks();
    expect(machine.run(1_000_000)).toEqual({ kind: 'debug' });
    expect(cpu.eip).toBe(OUT);
    expect(cpu.r8[0]).toBe('H'.charCodeAt(0));
    // Watch the message: the second lodsb reads its second byte, then stop after it.
    cpu.breakAt.clear();
    const reads: number[] = [];
    cpu.onDataAccess = (lin, phys, size, write) => {
      if (!write && lin >= MESSAGE && lin < MESSAGE + MESSAGE_LENGTH) { reads.push(phys); cpu.breakPending = true; }
    };
    cpu.updateDebugHooks();
    expect(machine.run(1_000_000)).toEqual({ kind: 'debug' });
    expect(reads).toEqual([MESSAGE + 1]);
    expect(cpu.eip).toBe(OUT);
    cpu.onDataAccess = null;
    cpu.updateDebugHooks();
    expect(machine.run(1_000_000)).toEqual({ kind: 'exit', status: 1 });
  });

  it('under the hypervisor a stop is a preemption-timer exit and the run pauses', () => {
    const hv = new Hypervisor({ ramSize: 24 << 20, engine });
    let serial = '';
    const vm = hv.createVm({ name: 'g', memory: 4 << 20, console: (b) => { serial += Buffer.from(b).toString('latin1'); } });
    hv.bootMultiboot(vm, guestBinary(HELLO));
    const cpu = hv.cpu;
    let stops = 0;
    cpu.breakAt.add(OUT);
    cpu.onBreak = () => { if (stops++ < 3) { hv.pauseRequested = true; return true; } return false; };
    cpu.updateDebugHooks();
    for (let i = 0; i < 3; i++) {
      expect(hv.run(1_000_000)).toEqual({ kind: 'paused' });
      expect(hv.vcpuOf(vm).rip).toBe(OUT);
      expect(serial.length).toBe(i);
      // Step past the breakpoint: it is not asked about the instruction we resume at.
      cpu.breakAt.clear(); cpu.updateDebugHooks();
      hv.run(1);
      cpu.breakAt.add(OUT); cpu.updateDebugHooks();
    }
    expect(hv.run(1_000_000)).toEqual({ kind: 'all-stopped' });
    expect(serial).toContain('Hello from a full-virtualized guest');
    expect(vm.stop).toEqual({ kind: 'exit', status: 1 });
  });
});

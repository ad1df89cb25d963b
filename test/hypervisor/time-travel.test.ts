/**
 * Reverse execution: going back lands on exactly the state forward execution had at that
 * instruction (registers, RIP, RFLAGS, CR3, devices, memory), through I/O exits, timer interrupts
 * and HLT; going forward again repeats history exactly, console input included; checkpoints stay
 * bounded.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { assemble } from '../../assembler/index.js';
import { ExitReason } from '../../emulator/vmx/controls.js';
import { VmcsField as F } from '../../emulator/vmx/fields.js';
import { Hypervisor } from '../../hypervisor/hypervisor.js';
import { PAGE } from '../../hypervisor/memory.js';
import { TimeTravel } from '../../hypervisor/time-travel.js';
import type { Vm } from '../../hypervisor/vm.js';

const ROOT = join(__dirname, '..', '..');
const LIB = join(ROOT, 'guests', 'lib');
const KERNEL = join(ROOT, 'guests', 'kernel', 'kernel.asm');
const kernel = assemble(readFileSync(KERNEL, 'utf8'), { fileName: KERNEL, includePaths: [LIB] }).binary;

function boot(image: Uint8Array, memory = 8 << 20): { hv: Hypervisor; vm: Vm; out: () => string } {
  const hv = new Hypervisor({ ramSize: memory + (8 << 20) });
  let text = '';
  const vm = hv.createVm({ name: 'guest', memory, console: (b) => { text += Buffer.from(b).toString('latin1'); } });
  hv.bootMultiboot(vm, image);
  return { hv, vm, out: () => text };
}

/** Everything guest-visible, memory as a hash. */
function state(hv: Hypervisor, vm: Vm): string {
  const v = hv.vcpuOf(vm);
  return JSON.stringify({
    regs: [...v.regs], rip: v.vmcs.read(F.GUEST_RIP), rflags: v.vmcs.read(F.GUEST_RFLAGS), cr3: v.vmcs.read(F.GUEST_CR3),
    interruptibility: v.vmcs.read(F.GUEST_INTERRUPTIBILITY_INFO), halted: v.halted,
    pit: vm.devices.pit.saveState(), pic: vm.devices.pic.saveState(), uart: vm.devices.uart.saveState(),
    memory: createHash('sha256').update(vm.ram.view()).digest('hex'),
  });
}

describe('time travel', () => {
  test('reverse-stepping lands on exactly the state forward execution had there', () => {
    const { hv, vm, out } = boot(kernel);
    const tt = new TimeTravel(hv, vm, { interval: 50_000 });
    // A window with a burst of UART writes (I/O exits) and, at 2,000,000, the timer's IRQ 0 injected.
    tt.run(1_925_600);
    const start = tt.position, steps = 74_410;
    const backs = [1, 5, 10, 11, 17, 150, 30_000, 74_400];
    const wanted = new Set([start + steps, ...backs.map((b) => start + steps - b)]);
    const seen = new Map<number, string>();
    const reasons = new Set<number>();
    hv.observer = (_vm, exit) => { reasons.add(exit.reason); };
    const ticksBefore = vm.devices.pit.saveState().deliveredTick;
    // Forward to each position wanted, the last 200 instructions one at a time as stepi does.
    const stops = [...wanted].sort((a, b) => a - b);
    while (tt.position < start + steps) {
      if (wanted.has(tt.position)) seen.set(tt.position, state(hv, vm));
      const next = stops.find((p) => p > tt.position)!;
      tt.run(next > start + steps - 200 ? 1 : next - tt.position);
    }
    hv.observer = null;
    const end = tt.position;
    expect(end).toBe(start + steps);
    seen.set(end, state(hv, vm));
    expect(reasons).toContain(ExitReason.IO_INSTRUCTION);
    expect(vm.devices.pit.saveState().deliveredTick).toBeGreaterThan(ticksBefore);
    const printed = out();
    for (const back of backs) {
      tt.goTo(end);
      tt.reverseStep(back);
      expect(tt.position).toBe(end - back);
      expect(state(hv, vm)).toBe(seen.get(end - back));
    }
    // Far back (across many checkpoints), then forward again: history repeats exactly.
    tt.goTo(600_000);
    expect(tt.position).toBe(600_000);
    expect(state(hv, vm)).not.toBe(seen.get(end));
    tt.goTo(end);
    expect(state(hv, vm)).toBe(seen.get(end));
    expect(out()).toBe(printed); // re-execution printed nothing twice
    expect(tt.replays).toBe(backs.length + 1);
    tt.run(60_000_000);
    expect(vm.stop).toEqual({ kind: 'exit', status: 1 });
    expect(out()).toMatch(/verdict: every task ended as expected/);
  });

  test('console input is recorded and delivered at the same instruction on every replay', () => {
    // Echoes each byte from COM1 plus one, and counts loop iterations in EDI.
    const source = `
      bits 32
      org 0x100000
      %include "multiboot.inc"
              MULTIBOOT_HEADER start
      start:  mov dx, 0x3fb             ; 115,200 baud: a byte arrives every 8,680 instructions
              mov al, 0x80
              out dx, al
              mov dx, 0x3f8
              mov al, 1
              out dx, al
              mov dx, 0x3fb
              mov al, 3
              out dx, al
              xor edi, edi
      poll:   inc edi
              mov dx, 0x3fd
              in al, dx
              test al, 1
              jz poll
              mov dx, 0x3f8
              in al, dx
              cmp al, '.'
              je done
              inc al
              out dx, al
              jmp poll
      done:   mov al, 1
              out 0xf4, al
              hlt
              MULTIBOOT_END`;
    const image = assemble(source, { fileName: 'echo.asm', includePaths: [LIB] }).binary;
    const { hv, vm, out } = boot(image, 4 << 20);
    const tt = new TimeTravel(hv, vm, { interval: 10_000 });
    tt.run(2_500);
    const firstAt = tt.position;
    tt.input(Uint8Array.from(Buffer.from('HAL')));
    tt.run(40_000);
    tt.input(Uint8Array.from(Buffer.from('abc')));
    tt.run(30_000);
    expect(out()).toBe('IBMbcd');
    const end = tt.position, before = state(hv, vm);
    tt.goTo(firstAt - 100);
    tt.goTo(end);
    expect(state(hv, vm)).toBe(before);
    expect(out()).toBe('IBMbcd');
    // New input in the past makes a new future: the later recorded input is forgotten.
    tt.goTo(firstAt + 30_000);
    tt.input(Uint8Array.from(Buffer.from('xy.')));
    expect(tt.inputs.map((i) => Buffer.from(i.bytes).toString())).toEqual(['HAL', 'xy.']);
    tt.run(100_000);
    expect(vm.stop).toEqual({ kind: 'exit', status: 3 }); // isa-debug-exit: (1 << 1) | 1
    expect(out()).toBe('IBMbcdyz');
  });

  test('checkpoints share unchanged pages and thin out, so memory stays bounded', () => {
    const { hv, vm } = boot(kernel);
    const tt = new TimeTravel(hv, vm, { interval: 20_000, maxCheckpoints: 16 });
    tt.run(2_000_000);
    const at = tt.checkpointPositions;
    expect(at.length).toBeLessThanOrEqual(16);
    expect(at[0]).toBe(0);
    expect(at[at.length - 1]).toBe(2_000_000);
    // Recent history stays dense, older history sparse.
    expect(at[at.length - 1]! - at[at.length - 2]!).toBe(20_000);
    expect(at[2]! - at[1]!).toBeGreaterThan(20_000);
    // Far less than one copy of guest memory per checkpoint.
    expect(tt.checkpointBytes).toBeLessThan(3 * vm.ram.size);
    expect(tt.checkpointBytes % PAGE).toBe(0);
    const s = state(hv, vm);
    tt.goTo(at[1]! + 1);
    tt.goTo(2_000_000);
    expect(state(hv, vm)).toBe(s);
  });
});

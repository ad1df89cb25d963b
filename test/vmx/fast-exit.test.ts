/**
 * Vmx.fastExit at the processor level, with a handler written here instead of the hypervisor's:
 * what the processor does with each answer, and how a compiled block goes on (or not) after an
 * exit completed in place. The hypervisor's own use is proved in test/hypervisor/fast-exits.test.ts.
 */
import { describe, expect, test } from 'vitest';
import { PicPair } from '../../emulator/devices/pic8259.js';
import { ExitReason as R, Pin } from '../../emulator/vmx/controls.js';
import { VmcsField as F } from '../../emulator/vmx/fields.js';
import { FastExit } from '../../emulator/vmx/vmx.js';
import { GUEST, GUEST_BASE, VmxHost } from './harness.js';

/** A host whose fast handler answers CPUID in place (EAX = 0x1234) with `answer`, after `also`. */
function host(engine: 'blocks' | 'interpret', answer: number, also: (h: VmxHost) => void = () => {}, pin = 0): { h: VmxHost; calls: number[] } {
  const h = new VmxHost({ engine, pin });
  h.cpu.vmx.deferHostState = true;
  const calls: number[] = [];
  h.cpu.vmx.fastExit = (reason) => {
    calls.push(reason);
    if (reason !== R.CPUID) return FastExit.DECLINED;
    h.cpu.r[0] = 0x1234;
    also(h);
    return answer;
  };
  return { h, calls };
}

for (const engine of ['blocks', 'interpret'] as const) {
  describe(`Vmx.fastExit (${engine})`, () => {
    test('resumed in place: the instruction is skipped, not retired, and the guest goes on to its next exit', () => {
      const { h, calls } = host(engine, 1000);
      h.load('mov ecx, 3\nl: cpuid\nadd ebx, eax\ndec ecx\njnz l\nhlt');
      const before = h.cpu.icount;
      const e = h.run();
      expect(e.reason).toBe(R.HLT);
      expect(calls).toEqual([R.CPUID, R.CPUID, R.CPUID, R.HLT]); // HLT offered too, and declined
      expect(h.cpu.r[3]).toBe(3 * 0x1234);
      expect(h.cpu.icount - before).toBe(1 + 3 * 3); // mov, then add/dec/jnz three times: CPUID never retires
      expect(h.cpu.vmx.fastExits).toBe(3);
    });

    test('EXIT_AFTER: the exit happens past the emulated instruction, with the exit information of CPUID', () => {
      const { h } = host(engine, FastExit.EXIT_AFTER);
      h.load('cpuid\nhlt');
      const e = h.run();
      expect([e.reason, e.guestRip]).toEqual([R.CPUID, GUEST.CODE + 2]);
      expect(h.vmcs.read(F.GUEST_RIP)).toBe(GUEST.CODE + 2);
      expect(h.cpu.r[0]).toBe(0x1234);
      expect(h.cpu.vmx.fastExits).toBe(0);
    });

    test('code the handler writes is what runs next, not a stale compiled copy', () => {
      // The handler rewrites `mov ebx, 1` (BB imm32) right after the CPUID into `mov ebx, 2`.
      const { h } = host(engine, 1000, (x) => x.cpu.mem.write8(GUEST_BASE + GUEST.CODE + 3, 2));
      h.load('cpuid\nmov ebx, 1\nhlt');
      expect(h.run().reason).toBe(R.HLT);
      expect(h.cpu.r[3]).toBe(2);
    });

    test('an interrupt the handler raises, under external-interrupt exiting, exits right after the instruction', () => {
      const pic = new PicPair();
      pic.initializeLikeBios(0x20, 0x28);
      pic.master.portWrite(1, 1, 0xf9); // unmask IRQ1 (and the cascade)
      const { h } = host(engine, 1000, () => pic.irqLine(1).setLevel(true), Pin.EXTERNAL_INTERRUPT_EXITING);
      h.cpu.intr = pic;
      h.load('cpuid\ninc esi\ninc esi\nhlt');
      const e = h.run();
      expect(e.reason).toBe(R.EXTERNAL_INTERRUPT);
      expect(e.guestRip).toBe(GUEST.CODE + 2); // after CPUID, before the INCs of the same block
    });

    test('the budget the handler answers is the run\'s: the guest stops there, however long its block', () => {
      const { h } = host(engine, 2);
      h.load('cpuid\ninc esi\ninc esi\ninc esi\ninc esi\nhlt');
      const before = h.cpu.icount;
      expect(h.enter().kind).toBe('budget');
      expect(h.cpu.icount - before).toBe(2);
      expect(h.cpu.r[6]).toBe(2);
    });
  });
}

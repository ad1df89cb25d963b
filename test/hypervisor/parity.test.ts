/**
 * Full virtualization's promise: an unmodified kernel cannot tell. Every self-checking kernel of
 * the bare-machine suite (test/kernels/*.asm, Multiboot ones) boots as a VM under the hypervisor
 * and prints exactly what it prints on the bare machine, and stops the same way: segments,
 * privilege, interrupts, task switches (completed by the hypervisor), virtual-8086 mode, real
 * mode, paging, TLB behaviour (VPID-tagged), PIT and UART timing, debug registers, faults.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { KERNEL_DIR, runKernel } from '../kernels/run-kernel.js';
import { runGuest } from './run-guest.js';

const kernels = readdirSync(KERNEL_DIR).filter((f) => f.endsWith('.asm') && !/^;\s*@boot rom/m.test(readFileSync(join(KERNEL_DIR, f), 'utf8')))
  .sort().map((f) => join(KERNEL_DIR, f));
// The full-virtualized guests too. (guests/vmx/minivisor.asm is the exception by design: under the
// hypervisor CPUID hides VMX, and it says so and stops.)
const GUESTS = join(__dirname, '..', '..', 'guests');
kernels.push(join(GUESTS, 'hello', 'fv.asm'), join(GUESTS, 'kernel', 'kernel.asm'));

describe('bare machine and hypervisor agree', () => {
  test('there are kernels to compare', () => {
    expect(kernels.length).toBeGreaterThanOrEqual(10);
  });
  for (const path of kernels) {
    test(path.split('/').slice(-2).join('/'), () => {
      const bare = runKernel(path, 'blocks');
      const hv = runGuest(path, { memory: 32 << 20 });
      expect(hv.serial).toBe(bare.serial);
      const bareStop = bare.stop.kind === 'exit' ? { kind: 'exit', status: bare.stop.status } : { kind: bare.stop.kind };
      expect(hv.vm.stop).toEqual(bareStop);
      // Every instruction is accounted for: executed in non-root mode or emulated by a handler.
      const vcpu = hv.hv.vcpuOf(hv.vm);
      expect(vcpu.executed + vcpu.emulated).toBe(bare.machine.cpu.icount);
    });
  }
});

/**
 * Device timing under the hypervisor: every device whose deadline the run loop waits for is
 * brought up to the VM's time when that deadline comes.
 */
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ExitReason } from '../../emulator/vmx/controls.js';
import { Hypervisor } from '../../hypervisor/hypervisor.js';
import { buildKernel } from '../kernels/run-kernel.js';

describe('VM devices', () => {
  test('a deadline of the MMIO UART (no interrupt line) passes once, not at every entry', () => {
    const image = buildKernel(join(__dirname, 'devices', 'mmio-uart-timeout.asm')).binary;
    const hv = new Hypervisor({ ramSize: 12 << 20 });
    const vm = hv.createVm({ name: 'uart', memory: 4 << 20 });
    hv.bootMultiboot(vm, image);
    expect(hv.run(5_000_000).kind).toBe('all-stopped');
    expect(vm.stop).toEqual({ kind: 'exit', status: 1 });
    expect(hv.vcpuOf(vm).regs[3]).toBe(0x5a); // the byte came back through loopback
    // 400,000 instructions of spinning: a handful of slices, not an exit per instruction.
    expect(vm.exitStats.get(ExitReason.PREEMPTION_TIMER)?.count ?? 0).toBeLessThan(20);
  });
});

/**
 * VMs booted from one image run the same code at other host-physical addresses: the block
 * compiler makes the second VM's blocks as copies of the first's (compileBlock, SharedBlock),
 * checking the bytes. Code that differs in one immediate is compiled afresh, and each VM retires
 * exactly its own instruction count.
 */
import { describe, expect, test } from 'vitest';
import { buildGuest } from '../../bench/build-guest.js';
import { WORKLOADS } from '../../bench/workloads.js';
import { Hypervisor } from '../../hypervisor/hypervisor.js';

const alu = WORKLOADS.find((w) => w.name === 'alu')!;
const image = (n: number) => buildGuest(alu.source, alu.defines(n));

describe('blocks shared between copies of the same code', () => {
  test('four VMs, two images differing in one immediate: copies where the bytes match, exact counts everywhere', () => {
    const hv = new Hypervisor({ ramSize: 4 * (4 << 20) + (16 << 20) });
    const sizes = [1000, 1000, 2000, 2000];
    const vms = sizes.map((n, i) => {
      const vm = hv.createVm({ name: `alu${i}`, memory: 2 << 20 });
      hv.bootMultiboot(vm, image(n));
      return vm;
    });
    expect(hv.run(1_000_000).kind).toBe('all-stopped');
    sizes.forEach((n, i) => {
      expect(vms[i]!.stop).toEqual({ kind: 'halted' }); // the workload ends in HLT with interrupts off
      const vcpu = hv.vcpuOf(vms[i]!);
      expect(vcpu.executed + vcpu.emulated, `VM ${i} (ITER ${n})`).toBe(alu.instructions(n));
    });
    // The second VM of each image copies every block; the first VM of the second image copies
    // the blocks whose bytes are the same, and compiles the one holding the loop count afresh.
    const cpu = hv.cpu;
    expect(cpu.blocksCopied).toBeGreaterThan(cpu.blocksCompiled);
    const alone = new Hypervisor({ ramSize: 24 << 20 });
    alone.bootMultiboot(alone.createVm({ name: 'alu', memory: 2 << 20 }), image(1000));
    alone.run(1_000_000);
    expect(alone.cpu.blocksCopied).toBe(0);
    expect(cpu.blocksCompiled).toBe(alone.cpu.blocksCompiled + 1);
  });
});

/**
 * Guest memory as a boot finds it: all zero but the image, whatever ran in the VM before, and
 * without writing a fresh VM's memory (FrameAllocator hands it out zeroed; writing it would
 * commit every page at once).
 */
import { join } from 'node:path';
import { describe, expect, test, vi } from 'vitest';
import { Hypervisor } from '../../hypervisor/hypervisor.js';
import { buildKernel } from '../kernels/run-kernel.js';

const STORM = buildKernel(join(__dirname, 'guests', 'exit-storm.asm')).binary;
const QUIET = buildKernel(join(__dirname, 'fast-exits', 'quiet-stop.asm')).binary;
const STACK = 0x90000; // KERNEL_STACK_TOP of guests/lib/system.inc, outside both images

/** The guest's stack page, below STACK, as words. */
const stackWords = (hv: Hypervisor, name: string): number[] => {
  const vm = hv.vms.find((v) => v.name === name)!;
  return Array.from({ length: 1024 }, (_, i) => vm.ram.read32(STACK - 4096 + i * 4));
};

describe('guest memory at boot', () => {
  test('a boot clears what ran before it; booting a fresh VM writes none of its memory', () => {
    const hv = new Hypervisor({ ramSize: 24 << 20 });
    const vm = hv.createVm({ name: 'm', memory: 16 << 20 });
    const fill = vi.spyOn(hv.cpu.mem.u8, 'fill');
    hv.bootMultiboot(vm, STORM);
    expect(fill).not.toHaveBeenCalled();
    expect(hv.run(50_000_000).kind).toBe('all-stopped');
    expect(stackWords(hv, 'm').some((w) => w !== 0)).toBe(true); // the guest's calls left return addresses
    hv.bootMultiboot(vm, QUIET);
    expect(fill).toHaveBeenCalledTimes(1);
    expect(stackWords(hv, 'm').every((w) => w === 0)).toBe(true);
    fill.mockRestore();
  });

  test('so does one after a host wrote the memory, through a write or a view', () => {
    const hv = new Hypervisor({ ramSize: 40 << 20 });
    const a = hv.createVm({ name: 'a', memory: 16 << 20 }), b = hv.createVm({ name: 'b', memory: 16 << 20 });
    a.ram.write32(STACK - 8, 0x12345678);
    b.ram.view()[STACK - 8] = 0x9a;
    hv.bootMultiboot(a, QUIET);
    hv.bootMultiboot(b, QUIET);
    expect(stackWords(hv, 'a').every((w) => w === 0)).toBe(true);
    expect(stackWords(hv, 'b').every((w) => w === 0)).toBe(true);
  });
});

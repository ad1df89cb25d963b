/**
 * Runs self-checking test kernels under the hypervisor: the same directives and TAP report as
 * test/kernels/run-kernel.ts, with the kernel booted as a VM instead of on the bare machine.
 */
import { Hypervisor, type RunResult } from '../../hypervisor/hypervisor.js';
import type { Vm } from '../../hypervisor/vm.js';
import { buildKernel, type KernelDirectives } from '../kernels/run-kernel.js';

export interface GuestRun {
  hv: Hypervisor;
  vm: Vm;
  result: RunResult;
  serial: string;
  directives: KernelDirectives;
}

export function runGuest(path: string, options: { engine?: 'blocks' | 'interpret'; memory?: number } = {}): GuestRun {
  const { binary, directives } = buildKernel(path);
  const memory = options.memory ?? 32 << 20;
  const hv = new Hypervisor({ ramSize: memory + (16 << 20), engine: options.engine ?? 'blocks' });
  let serial = '';
  const vm = hv.createVm({ name: 'guest', memory, console: (b) => { serial += Buffer.from(b).toString('latin1'); } });
  hv.bootMultiboot(vm, binary, directives.cmdline);
  if (directives.input) vm.input(new TextEncoder().encode(directives.input));
  const result = hv.run(directives.maxInstructions);
  return { hv, vm, result, serial, directives };
}

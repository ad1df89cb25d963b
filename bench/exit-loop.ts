/**
 * One exit guest in a loop, for profiling the exit path (node --cpu-prof): runs
 * guests/bench/exits/REASON.asm with N iterations R times under the hypervisor and prints the ns
 * per iteration of each run, in wall time and in the main thread's CPU time (steadier on a machine
 * other work shares). Usage: node scripts/run-ts.mjs bench/exit-loop.ts [REASON] [N] [R] [--floor]
 *
 * --floor (cpuid only) measures what the processor's side of an in-place exit costs alone: the
 * hypervisor's fast-exit handler is replaced by one that only answers CPUID and resumes, with no
 * counting, charging, timer or device work. The difference from a normal run is the hypervisor's
 * share; the floor itself is the least any in-place exit can cost on this design.
 */
import { ExitReason } from '../emulator/vmx/controls.js';
import { FastExit } from '../emulator/vmx/vmx.js';
import { answerCpuid } from '../hypervisor/exits/cpuid.js';
import type { Hypervisor } from '../hypervisor/hypervisor.js';
import { buildGuest } from './build-guest.js';
import { exitGuestCmdline } from './exit-guests.js';
import { findExitGuests } from './exits.js';
import { runUnderHypervisor } from './hv-run.js';
import { mainThreadCpuNs, median } from './stats.js';

const args = process.argv.slice(2);
const floor = args.includes('--floor');
const [reason = 'cpuid', n = '200000', repeats = '5'] = args.filter((a) => a !== '--floor');
if (floor && reason !== 'cpuid') throw new RangeError('--floor measures CPUID only');
const g = findExitGuests([reason])[0]!;
const image = buildGuest(g.source, {}, ['guests/lib', 'guests/bench/exits']);

/** The least fast-exit handler: answer CPUID, resume for as long as the run allows. */
const bareHandler = (hv: Hypervisor): void => {
  const r = hv.cpu.r;
  hv.cpu.vmx.fastExit = (why) => {
    if (why !== ExitReason.CPUID) return FastExit.DECLINED;
    answerCpuid(r);
    return 1 << 30;
  };
};
const run = (k: number): [number, number] => {
  const c0 = mainThreadCpuNs();
  const wall = runUnderHypervisor([{ name: g.name, image, cmdline: exitGuestCmdline(k), memory: 8 << 20 }], floor ? { prepare: bareHandler } : {}).nanoseconds;
  return [wall, mainThreadCpuNs() - c0];
};
run(1000);
const bases = [run(0), run(0), run(0)];
const base = [median(bases.map((b) => b[0])), median(bases.map((b) => b[1]))];
const wall: number[] = [], cpu: number[] = [];
for (let i = 0; i < Number(repeats); i++) {
  const [w, c] = run(Number(n));
  wall.push((w - base[0]!) / Number(n));
  cpu.push((c - base[1]!) / Number(n));
}
const show = (xs: number[]): string => `${xs.map((x) => x.toFixed(0)).join(' ')}; median ${median(xs).toFixed(0)}`;
const label = floor ? `${reason} (floor)` : reason;
process.stdout.write(`${label} ns per iteration, wall: ${show(wall)}\n${label} ns per iteration, CPU:  ${show(cpu)}\n`);

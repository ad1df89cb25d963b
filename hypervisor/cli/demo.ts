/**
 * `trapvisor demo` (what `npm start` runs): the project's ideas, each shown on real guests and
 * checked as it goes: the bare CPU running assembled workloads; the same kernel full-virtualized and
 * paravirtualized under the hypervisor, exit for exit; a two-level (guest page tables, then EPT)
 * translation; several tenants on one CPU with hostile ones stopped or contained; a checkpoint
 * restored in another hypervisor ending exactly as an uninterrupted run. Exit status 1 if any
 * check fails.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { createHash } from 'node:crypto';
import { Chalk, type ChalkInstance } from 'chalk';
import { assemble } from '../../assembler/index.js';
import { Cpu } from '../../emulator/cpu/cpu.js';
import { enterFlatProtectedMode } from '../../emulator/cpu/segments.js';
import { MULTIBOOT_BOOTLOADER_MAGIC, parseMultiboot } from '../loader/multiboot.js';
import { crcResult, WORKLOADS } from '../../bench/workloads.js';
import { walkGuest, walkTargetEpt } from '../debug/page-walk.js';
import { VmTarget } from '../debug/target.js';
import { EXIT_REASON_NAMES } from '../../emulator/vmx/controls.js';
import { Hypervisor } from '../hypervisor.js';
import { parseSnapshot, restoreVm, snapshotVm } from '../snapshot.js';
import type { Vm } from '../vm.js';
import { runAction } from './errors.js';
import { describeStop } from './run.js';
import { loadImageBytes } from './boot.js';

/** The project root (where guests/ lives), from the bundled CLI or from the sources. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'guests', 'lib')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

const SMALL_SIZES: Record<string, number> = { alu: 100_000, mem: 1, branchy: 2_000, call: 20 };
const EXPECTED_EAX: Record<string, (n: number) => number> = {
  call: (n) => { let a = 0, b = 1; for (let i = 0; i < n; i++) [a, b] = [b, a + b]; return a; },
  branchy: (n) => crcResult(n),
};

/** Section 1: the bare CPU runs the compute workloads, each checked by result and exact instruction count. */
function bareCpu(out: (s: string) => void, chalk: ChalkInstance, root: string): number {
  let failures = 0;
  for (const w of WORKLOADS) {
    const n = SMALL_SIZES[w.name]!;
    const path = join(root, w.source);
    const result = assemble(readFileSync(path, 'utf8'), { fileName: w.source, includePaths: [join(root, 'guests', 'lib')], defines: w.defines(n) });
    const image = parseMultiboot(result.binary);
    const cpu = new Cpu({ ramSize: 16 << 20 });
    enterFlatProtectedMode(cpu);
    for (const s of image.segments) cpu.mem.load(s.address, s.data);
    cpu.eip = image.entry;
    cpu.r[0] = MULTIBOOT_BOOTLOADER_MAGIC | 0;
    const stop = cpu.run(1e9);
    const eax = cpu.r[0]! >>> 0;
    // BENCH_DONE sends 'D' (0x44) through AL, so the result keeps only its upper 24 bits in EAX.
    const expected = EXPECTED_EAX[w.name]?.(n);
    const want = expected === undefined ? undefined : ((expected & ~0xff) | 0x44) >>> 0;
    const countOk = cpu.icount === w.instructions(n);
    const ok = stop.kind === 'halted' && countOk && (want === undefined || want === eax);
    if (!ok) failures++;
    out(`  ${ok ? chalk.green('ok  ') : chalk.red('FAIL')} ${w.name.padEnd(8)} ${w.description.padEnd(48)} `
      + `${result.binary.length} bytes, ${cpu.icount.toLocaleString('en-US')} instructions`
      + `${countOk ? '' : ` (model says ${w.instructions(n)})`}, EAX=0x${eax.toString(16)}\n`);
  }
  return failures;
}

interface Guest { name: string; binary: Uint8Array; console: string }

function guest(root: string, source: string, name: string, defines: Record<string, string> = {}): Guest {
  return { name, binary: loadImageBytes(join(root, source), [], { stderr: (t) => process.stderr.write(t) }, defines), console: '' };
}

/** Another run of the same image, with a console of its own. */
const again = (g: Guest, name = g.name): Guest => ({ name, binary: g.binary, console: '' });

const retired = (hv: Hypervisor, vm: Vm): number => hv.vcpuOf(vm).executed + hv.vcpuOf(vm).emulated;

/** Boots guests under one hypervisor and runs them (all to their end, or `budget` instructions together). */
function underHypervisor(guests: Guest[], budget = Infinity, memory = 16 << 20): { hv: Hypervisor; vms: Vm[] } {
  const hv = new Hypervisor({ ramSize: guests.length * (memory + (2 << 20)) + (8 << 20) });
  const vms = guests.map((g) => {
    const vm = hv.createVm({ name: g.name, memory, console: (b) => { g.console += Buffer.from(b).toString('latin1'); } });
    hv.bootMultiboot(vm, g.binary);
    return vm;
  });
  hv.run(budget);
  return { hv, vms };
}

const count = (n: number): string => n.toLocaleString('en-US');

export function runDemo(out: (s: string) => void, color: boolean): number {
  const chalk = new Chalk({ level: color ? 1 : 0 });
  const root = projectRoot();
  const heading = (s: string): void => out(chalk.bold(`\n${s}\n`));
  let failures = 0;
  const check = (ok: boolean, what: string): void => {
    if (!ok) failures++;
    out(`  ${ok ? chalk.green('ok  ') : chalk.red('FAIL')} ${what}\n`);
  };
  out(chalk.bold('trapvisor demo: an x86 machine you can see all the way through\n'));

  heading('1. The CPU alone: guests assembled by trapvisor, run on its IA-32 CPU (no hypervisor)');
  failures += bareCpu(out, chalk, root);

  heading('2. Full virtualization vs paravirtualization: one kernel, built twice, under the hypervisor');
  const fv = guest(root, 'guests/kernel/kernel.asm', 'kernel-fv');
  const pv = guest(root, 'guests/kernel/kernel.asm', 'kernel-pv', { PV: '1' });
  const both = underHypervisor([fv, pv]);
  const report = (g: Guest): string[] => {
    const lines = g.console.split('\n');
    const a = lines.indexOf('== report =='), b = lines.indexOf('== end of report ==');
    return a < 0 || b < a ? [] : lines.slice(a + 1, b);
  };
  for (const line of report(fv)) out(chalk.dim(`  | ${line}\n`));
  const rf = report(fv), rp = report(pv);
  const sameBut = rf.length > 0 && rf.length === rp.length && rf.filter((l, i) => l !== rp[i]).every((l) => l.startsWith('mode:'));
  check(sameBut, `the PV build printed the same report but for its mode line: ${rp.find((l) => l.startsWith('mode:')) ?? '(no report)'}`);
  const [vf, vp] = both.vms as [Vm, Vm];
  const reasons = [...new Set([...vf.exitStats.keys(), ...vp.exitStats.keys()])].sort((a, b) => (vf.exitStats.get(b)?.count ?? 0) - (vf.exitStats.get(a)?.count ?? 0));
  out(`\n  ${'VM exits'.padEnd(20)} ${'FV'.padStart(8)} ${'PV'.padStart(8)}\n`);
  for (const r of reasons) out(`  ${(EXIT_REASON_NAMES.get(r) ?? String(r)).padEnd(20)} ${count(vf.exitStats.get(r)?.count ?? 0).padStart(8)} ${count(vp.exitStats.get(r)?.count ?? 0).padStart(8)}\n`);
  out(`  ${'total'.padEnd(20)} ${count(vf.totalExits).padStart(8)} ${count(vp.totalExits).padStart(8)}\n`);
  const inPlace = (vm: Vm): number => [...vm.exitStats.values()].reduce((n, s) => n + s.inPlace, 0);
  out(`  ${'completed in place'.padEnd(20)} ${count(inPlace(vf)).padStart(8)} ${count(inPlace(vp)).padStart(8)}   (the exit fast path: the guest resumed without the VMCS round trip)\n`);
  check(vp.totalExits * 10 < vf.totalExits, `the FV kernel traps on every UART, PIT and PIC access; the PV kernel asks by hypercall: ${(vf.totalExits / Math.max(1, vp.totalExits)).toFixed(0)}x fewer exits`);

  heading('3. Memory virtualization: two-level translation of the FV kernel\'s higher-half address');
  const target = new VmTarget(both.hv, vf);
  const linear = 0xc0100000;
  const g = walkGuest(target, linear);
  const e = g.address === null ? null : walkTargetEpt(target, g.address);
  out(`  guest-virtual  ${hex32(linear)}\n`);
  for (const st of g.steps) out(chalk.dim(`    guest ${st.level} at guest-physical ${hex32(st.entryAddress)} = ${hex32(st.entry)} [${st.flags}]\n`));
  out(`  guest-physical ${g.address === null ? g.fault : hex32(g.address)}\n`);
  for (const st of e?.steps ?? []) out(chalk.dim(`    EPT ${st.level.padEnd(5)} at host-physical ${hex32(st.entryAddress)} = ${hex32(st.entry)} [${st.flags}]\n`));
  out(`  host-physical  ${e === null ? '-' : e.address === null ? e.fault : hex32(e.address)}\n`);
  check(g.address === 0x100000 && e !== null && e.address !== null && e.address !== g.address,
    'the guest\'s page tables map it to its own physical 1 MiB; the hypervisor\'s EPT puts that in a host frame of its choosing');

  heading('4. Several tenants on one CPU: well-behaved guests beside hostile ones');
  const tenants = [
    guest(root, 'guests/hello/fv.asm', 'hello-fv'), guest(root, 'guests/hello/pv.asm', 'hello-pv'),
    guest(root, 'guests/hostile/neighbour.asm', 'neighbour'), guest(root, 'guests/hostile/memory.asm', 'hostile-memory'),
    guest(root, 'guests/hostile/triple.asm', 'hostile-triple'), guest(root, 'guests/hostile/loop.asm', 'hostile-cli-loop'),
  ];
  const alone = again(tenants[2]!);
  underHypervisor([alone], Infinity, 4 << 20);
  const crowd = underHypervisor(tenants, 4_000_000, 4 << 20);
  out(`  ${'VM'.padEnd(18)} ${'instructions'.padStart(12)} ${'exits'.padStart(7)}  outcome\n`);
  for (const vm of crowd.vms) {
    out(`  ${vm.name.padEnd(18)} ${count(retired(crowd.hv, vm)).padStart(12)} ${count(vm.totalExits).padStart(7)}  ${describeStop(vm)}\n`);
  }
  const [hf, hp, nb, hm, ht, hl] = crowd.vms as [Vm, Vm, Vm, Vm, Vm, Vm];
  check(hf.stop?.kind === 'exit' && hp.stop?.kind === 'exit' && tenants[0]!.console.startsWith('Hello') && tenants[1]!.console.startsWith('Hello'), 'both hello guests said hello and exited');
  check(nb.stop?.kind === 'exit' && tenants[2]!.console === alone.console, 'the neighbour printed exactly what it prints alone');
  check(hm.stop?.kind === 'crash' && ht.stop?.kind === 'triple-fault' && hl.stop === null,
    'the hostile guests were stopped (a store outside its memory, a triple fault) or contained (CLI; JMP $ only ever gets its share)');

  heading('5. Checkpoint and restore: the FV kernel saved mid-run, restored in another hypervisor');
  const whole = again(fv, 'kernel');
  const first = underHypervisor([whole]);
  const part = again(fv, 'kernel');
  const a = underHypervisor([part], 2_000_000);
  const file = snapshotVm(a.hv, a.vms[0]!);
  const hv2 = new Hypervisor({ ramSize: 24 << 20 });
  let rest = '';
  const restored = restoreVm(hv2, parseSnapshot(file), (b) => { rest += Buffer.from(b).toString('latin1'); });
  hv2.run();
  const digest = (vm: Vm): string => createHash('sha256').update(vm.ram.view()).digest('hex').slice(0, 16);
  out(`  snapshot after 2,000,000 instructions: ${count(file.length)} bytes for 16 MiB of guest memory\n`);
  check(part.console + rest === whole.console && digest(restored) === digest(first.vms[0]!)
    && retired(hv2, restored) === retired(first.hv, first.vms[0]!),
  `the restored guest ended exactly as an uninterrupted run: the same console, memory hash ${digest(restored)}, instruction count`);

  out(chalk.bold('\nnext:\n'));
  out('  trapvisor boot guests/fv/kernel.img --stats        one guest under the hypervisor, with its exit table\n');
  out('  trapvisor run guests/fv/kernel.img guests/pv/kernel.img guests/hostile/storm.img\n');
  out('  trapvisor debug guests/hello/fv.asm                break, step, watch, reverse-step; --gdb PORT for gdb\n');
  out('  trapvisor bench exits --quick                      what each kind of VM exit costs\n');
  out('  trapvisor migrate --listen 47001 / boot IMAGE --migrate-to 127.0.0.1:47001 --after N\n');
  out('  trapvisor replicate --listen 47002 / boot IMAGE --replicate-to 127.0.0.1:47002 --fail-at N\n');
  out(failures ? chalk.red(`\n${failures} check(s) failed\n`) : chalk.green('\nevery check passed\n'));
  return failures ? 1 : 0;
}

const hex32 = (v: number): string => `0x${(v >>> 0).toString(16).padStart(8, '0')}`;

export function registerDemo(program: Command): void {
  program.command('demo').description('the tour: bare CPU, FV vs PV exits, two-level translation, tenants beside hostile guests, checkpoint and restore')
    .option('--no-color', 'plain output')
    .action(runAction((opts: { color: boolean }) => {
      const color = opts.color && process.stdout.isTTY === true && !process.env.NO_COLOR;
      return runDemo((s) => process.stdout.write(s), color);
    }));
}

/**
 * trapvisor's command line. Each command lives in its own module under hypervisor/cli/.
 */
import { Command } from 'commander';
import { registerAsm } from './asm.js';
import { registerBench } from './bench.js';
import { registerBoot } from './boot.js';
import { registerDebug } from './debug.js';
import { registerDemo } from './demo.js';
import { registerDisasm } from './disasm.js';
import { registerMigrate } from './migrate.js';
import { registerReplicate } from './replicate.js';
import { registerRestore, registerRun } from './run.js';

const program = new Command();
program
  .name('trapvisor')
  .description('An x86 machine you can see all the way through: emulator, VT-x, hypervisor, assembler.')
  .version('0.1.0');

registerAsm(program);
registerDisasm(program);
registerBoot(program);
registerRun(program);
registerBench(program);
registerRestore(program);
registerDebug(program);
registerMigrate(program);
registerReplicate(program);

registerDemo(program);

// GDB spells it -ex; commander wants one dash for one-letter flags only.
await program.parseAsync(process.argv.map((a) => (a === '-ex' ? '--ex' : a)));

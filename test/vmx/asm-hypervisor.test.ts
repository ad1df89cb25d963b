/**
 * Two ways in, one core: guests/vmx/minivisor.asm is a hypervisor written in x86 assembly that
 * drives the emulated VMX with the instructions (VMXON, VMWRITE, VMLAUNCH, VMREAD, VMRESUME),
 * booted on the bare machine exactly as a user boots it. Its serial output shows each VM exit.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runBoot, type BootOptions } from '../../hypervisor/cli/boot.js';
import { vmxInclude } from '../../emulator/vmx/asm-include.js';

const ROOT = join(__dirname, '..', '..');
const IMAGE = join(ROOT, 'guests', 'vmx', 'minivisor.asm');

async function boot(engine: string) {
  let stdout = '', stderr = '';
  const opts: BootOptions = { bare: true, mem: '32M', cmdline: '', engine, include: [], maxInstructions: '5000000' };
  const code = await runBoot(IMAGE, opts, {
    stdout: (b) => { stdout += Buffer.from(b).toString('latin1'); },
    stderr: (t) => { stderr += t; },
    stdin: null,
  });
  return { code, stdout, stderr };
}

const EXPECTED = [
  'minivisor: a hypervisor in assembly, in VMX root mode',
  'minivisor: VMCS revision 54565831',
  'minivisor: VMX root mode on, VMCS loaded',
  'minivisor: launching the guest',
  'exit #1: reason 10 CPUID leaf 0x40000000 -> signature',
  ...[...'Minivisor!'].map((ch, i) => `exit #${i + 2}: reason 30 I/O port 0x000003f8 OUT '${ch}'`),
  'exit #12: reason 30 I/O port 0x000003f8 IN -> 0xff',
  'exit #13: reason 12 HLT: the guest is done',
  'minivisor: 13 exits handled, guest left the string at guest-physical 0x2000: Minivisor!  ',
  '',
].join('\n');

describe('a hypervisor in assembly (guests/vmx/minivisor.asm)', () => {
  for (const engine of ['blocks', 'interpret']) {
    test(`boots with trapvisor boot --bare, launches its guest and handles every exit (${engine})`, async () => {
      const r = await boot(engine);
      expect(r.stdout).toBe(EXPECTED);
      expect(r.code).toBe(1); // isa-debug-exit with 0: (0 << 1) | 1
    });
  }

  test('guests/lib/vmx.inc is generated from emulator/vmx (node scripts/run-ts.mjs scripts/gen-vmx-inc.ts)', () => {
    expect(readFileSync(join(ROOT, 'guests', 'lib', 'vmx.inc'), 'utf8')).toBe(vmxInclude());
  });
});

/**
 * Every self-checking kernel in test/kernels/ boots on the bare machine (built with our assembler,
 * run through the real CPU and devices) and must report every check passed over COM1, with the
 * exit status, or the stop, its directives ask for. Each runs on both execution engines.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatCpuReport } from '../../hypervisor/cli/report.js';
import { KERNEL_DIR, parseTap, runKernel } from '../kernels/run-kernel.js';

const kernels = readdirSync(KERNEL_DIR).filter((f) => f.endsWith('.asm')).sort();

describe('self-checking kernels on the bare machine', () => {
  it('finds the kernels', () => {
    expect(kernels.length).toBeGreaterThan(0);
  });
  for (const file of kernels) {
    for (const engine of ['blocks', 'interpret'] as const) {
      it(`${file} (${engine})`, () => {
        const run = runKernel(join(KERNEL_DIR, file), engine);
        const tap = parseTap(run.serial);
        const context = `${run.serial}\nstop: ${JSON.stringify(run.stop)}\n${formatCpuReport(run.machine.cpu).join('\n')}`;
        expect(tap.bailOut, context).toBeNull();
        expect(tap.failed, context).toEqual([]);
        expect(tap.passed.length, context).toBeGreaterThan(0);
        expect(tap.plan, context).toBe(tap.passed.length);
        expect(run.stop.kind, context).toBe(run.directives.expectStop);
        if (run.stop.kind === 'exit') expect(run.stop.status, context).toBe(run.directives.expectStatus);
      });
    }
  }
});

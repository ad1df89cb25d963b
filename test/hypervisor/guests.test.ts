/**
 * Self-checking guests that test the hypervisor from inside a VM (test/hypervisor/guests/*.asm):
 * each prints TAP on its console and stops with status 1 when every check passed.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseTap } from '../kernels/run-kernel.js';
import { runGuest } from './run-guest.js';

const DIR = join(__dirname, 'guests');

describe('guests that check the hypervisor', () => {
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.asm')).sort()) {
    for (const engine of ['blocks', 'interpret'] as const) {
      test(`${file} (${engine})`, () => {
        const r = runGuest(join(DIR, file), { engine });
        const tap = parseTap(r.serial);
        expect(tap.failed, r.serial).toEqual([]);
        expect(tap.bailOut, r.serial).toBeNull();
        expect(tap.plan, r.serial).toBe(tap.passed.length);
        expect(tap.passed.length).toBeGreaterThan(5);
        expect(r.vm.stop, r.serial).toEqual({ kind: 'exit', status: r.directives.expectStatus });
      });
    }
  }
});

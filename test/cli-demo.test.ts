import { describe, expect, it } from 'vitest';
import { runDemo } from '../hypervisor/cli/demo.js';

describe('trapvisor demo (npm start)', () => {
  it('tours the machine on real guests, every check passing', () => {
    let text = '';
    const code = runDemo((s) => { text += s; }, false);
    expect(code).toBe(0);
    expect(text).not.toContain('FAIL');
    expect(text).toContain('every check passed');
    // 4 bare-CPU workloads, 2 FV/PV checks, 1 translation, 3 tenant checks, 1 snapshot.
    expect(text.match(/^ {2}ok /gm)).toHaveLength(11);
    expect(text).toMatch(/IO_INSTRUCTION +[\d,]+ +0\n/); // the PV kernel makes no port accesses
    // Most of the FV kernel's port accesses complete on the exit fast path.
    const inPlace = text.match(/completed in place +([\d,]+) +([\d,]+)/)!.slice(1).map((x) => Number(x.replace(/,/g, '')));
    expect(inPlace[0]).toBeGreaterThan(3000);
    expect(inPlace[1]).toBeGreaterThan(0);
    expect(text).toMatch(/guest-physical 0x00100000\n[\s\S]*host-physical {2}0x[0-9a-f]{8}\n/);
    expect(text).toMatch(/hostile-triple +[\d,]+ +[\d,]+ +triple fault/);
  });
});

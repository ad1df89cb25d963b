import { describe, expect, it } from 'vitest';
import { runDemo } from '../hypervisor/cli/demo.js';

describe('trapvisor demo (npm start)', () => {
  it('assembles, boots and checks every workload, and disassembles one', () => {
    let text = '';
    const code = runDemo((s) => { text += s; }, false);
    expect(code).toBe(0);
    expect(text).not.toContain('FAIL');
    expect(text.match(/^ok /gm)).toHaveLength(4);
    expect(text).toContain('jnz short start.loop');
  });
});

/**
 * `trapvisor asm`: outputs written together on success, nothing on failure, exit codes.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runAsm } from '../../hypervisor/cli/asm.js';
import { UserError } from '../../hypervisor/cli/errors.js';
import { ExitCode } from '../../hypervisor/cli/exit-codes.js';

const dir = mkdtempSync(join(tmpdir(), 'tv-asm-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(source: string, extra: Partial<Parameters<typeof runAsm>[1]> = {}) {
  const file = join(dir, 'src.asm');
  writeFileSync(file, source);
  const out = { output: join(dir, 'out.bin'), listing: join(dir, 'out.lst'), symbols: join(dir, 'out.sym'), include: [], define: [], ...extra };
  for (const f of [out.output, out.listing, out.symbols]) rmSync(f, { force: true });
  let stderr = '';
  const code = runAsm(file, out, { stderr: (t) => { stderr += t; }, colour: false });
  return { code, stderr, out };
}

describe('trapvisor asm', () => {
  it('writes the binary, listing and symbol file', () => {
    const { code, out } = run('bits 32\nstart: mov eax, VALUE\n', { define: ['VALUE=7'] });
    expect(code).toBe(ExitCode.OK);
    expect(Array.from(readFileSync(out.output))).toEqual([0xb8, 7, 0, 0, 0]);
    expect(readFileSync(out.listing, 'utf8')).toContain('B807000000');
    const sym = JSON.parse(readFileSync(out.symbols, 'utf8'));
    expect(sym.symbols[0]).toMatchObject({ name: 'start', address: 0, line: 2 });
    expect(sym.lines).toEqual([{ address: 0, size: 5, file: join(dir, 'src.asm'), line: 2 }]);
  });

  it('prints file:line:column diagnostics, exits 4 and writes nothing', () => {
    const { code, stderr, out } = run('nop\nmov eax, [\nbogus eax\n');
    expect(code).toBe(ExitCode.ASSEMBLY_ERROR);
    expect(stderr).toContain(`${join(dir, 'src.asm')}:2:11: error: expression expected`);
    expect(stderr).toContain(`${join(dir, 'src.asm')}:3:1: error: unknown instruction 'bogus'`);
    expect(stderr).not.toMatch(/\bat \w+ \(/); // no stack trace
    expect(existsSync(out.output) || existsSync(out.listing) || existsSync(out.symbols)).toBe(false);
  });

  it('rejects an unreadable input and a malformed -D', () => {
    expect(() => runAsm(join(dir, 'missing.asm'), { output: join(dir, 'x.bin'), include: [], define: [] }, { stderr: () => {}, colour: false }))
      .toThrow(expect.objectContaining({ exitCode: ExitCode.BAD_INPUT }));
    const bad = () => run('nop\n', { define: ['1x=2'] });
    expect(bad).toThrow(UserError);
    expect(bad).toThrow(expect.objectContaining({ exitCode: ExitCode.USAGE }));
  });
});

/**
 * The disassembler against the NASM golden corpus: every instruction NASM emitted disassembles to
 * text that trapvisor's assembler turns back into exactly the same bytes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assemble } from '../../assembler/index.js';
import { disassemble } from '../../assembler/disasm/format.js';

const DIR = join(__dirname, '..', 'golden', 'corpus');
const files = readdirSync(DIR).filter((f) => f.endsWith('.bin'));

describe('disassemble, then assemble: same bytes', () => {
  it('has the corpus', () => expect(files.length).toBeGreaterThan(10));
  for (const file of files) {
    it(file, () => {
      const bits = file.startsWith('bits16') ? 16 : 32;
      const bin = new Uint8Array(readFileSync(join(DIR, file)));
      const lines = disassemble(bin, 0, bits);
      expect(lines.some((l) => l.text.startsWith('db '))).toBe(false);
      const text = `bits ${bits}\n` + lines.map((l) => l.text).join('\n') + '\n';
      const out = assemble(text, { fileName: `${file}.dis.asm` }).binary;
      if (out.length !== bin.length || out.some((b, i) => b !== bin[i])) {
        let off = 0;
        for (const l of lines) {
          const again = assemble(`bits ${bits}\norg ${l.address}\n${l.text}\n`, { fileName: 'line.asm' }).binary;
          expect(Buffer.from(again).toString('hex'), `${l.text} at ${off}`).toBe(Buffer.from(l.bytes).toString('hex'));
          off += l.bytes.length;
        }
      }
      expect(out).toEqual(bin);
    });
  }
});

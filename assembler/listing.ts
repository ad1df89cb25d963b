/**
 * The listing (`-l FILE`), in NASM's layout: line number, address (offset in the section), the
 * bytes in hex, then the source line. A `times` line shows one repetition and `<rep N>`;
 * long byte runs continue on following lines ending in `-`; reserved space shows `??`;
 * lines from macro expansions are marked `<depth>`.
 */
import type { PreprocessedLine } from './preprocessor/preprocessor.js';
import type { Emission } from './passes.js';
import type { Section } from './sections.js';

const BYTES_PER_ROW = 8;
const hex = (b: number): string => b.toString(16).toUpperCase().padStart(2, '0');

export function formatListing(lines: readonly PreprocessedLine[], emissions: readonly Emission[], sections: readonly Section[]): string {
  const byLine = new Map<number, Emission>();
  for (const e of emissions) byLine.set(e.statement.index, e);
  const out: string[] = [];
  lines.forEach((l, index) => {
    const num = String(l.line).padStart(6);
    const marker = (l.macroDepth > 0 ? `<${l.macroDepth}>` : '').padEnd(6);
    const e = byLine.get(index);
    if (!e || e.size === 0) {
      out.push(`${num}${' '.repeat(28)}${marker}${l.text}`.trimEnd());
      return;
    }
    const sec = sections[e.section]!;
    const one = e.size / Math.max(e.repetitions, 1);
    let rows: string[];
    if (sec.nobits) rows = ['??'.repeat(Math.min(e.size, 9))];
    else {
      const bytes = Array.from(sec.buffer.bytes().subarray(e.offset, e.offset + (e.repetitions > 1 ? one : e.size)), hex);
      rows = [];
      for (let k = 0; k < bytes.length; k += BYTES_PER_ROW) rows.push(bytes.slice(k, k + BYTES_PER_ROW).join(''));
      if (rows.length === 0) rows = [''];
      if (e.repetitions > 1) rows[rows.length - 1] += `<rep ${e.repetitions.toString(16).toUpperCase()}h>`;
    }
    rows.forEach((r, k) => {
      const address = (e.offset + k * BYTES_PER_ROW).toString(16).toUpperCase().padStart(8, '0');
      const cont = k < rows.length - 1 ? '-' : '';
      out.push(`${num} ${address} ${(r + cont).padEnd(18)}${k === 0 ? `${marker}${l.text}` : ''}`.trimEnd());
    });
  });
  return out.join('\n') + '\n';
}

/**
 * The assembler's symbol file as the debugger uses it: names to addresses, addresses to
 * `symbol+offset`, addresses to source lines and `file:line` to addresses.
 */
import type { LineEntry, SymbolFile } from '../../assembler/symbol-file.js';

export class Symbols {
  private readonly byName = new Map<string, number>();
  /** Labels sorted by address, for `symbol+offset`. */
  private readonly labels: { name: string; address: number }[];
  private readonly lines: readonly LineEntry[];

  constructor(readonly file: SymbolFile | null) {
    const symbols = file?.symbols ?? [];
    for (const s of symbols) this.byName.set(s.name, s.address >>> 0);
    this.labels = symbols.filter((s) => s.kind === 'label').map((s) => ({ name: s.name, address: s.address >>> 0 }))
      .sort((a, b) => a.address - b.address);
    this.lines = [...(file?.lines ?? [])].sort((a, b) => a.address - b.address);
  }

  get hasLines(): boolean { return this.lines.length > 0; }

  lookup(name: string): number | undefined { return this.byName.get(name); }

  /** `name` or `name+0x12` for an address at or after a label (within 64 KiB), or undefined. */
  describe(address: number): string | undefined {
    const a = address >>> 0;
    let lo = 0, hi = this.labels.length - 1, best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.labels[mid]!.address <= a) { best = mid; lo = mid + 1; } else hi = mid - 1;
    }
    if (best < 0) return undefined;
    // Prefer the most specific of several labels at one address (a local label over its parent).
    let chosen = this.labels[best]!;
    for (let i = best; i >= 0 && this.labels[i]!.address === chosen.address; i--) {
      if (this.labels[i]!.name.length > chosen.name.length) chosen = this.labels[i]!;
    }
    const off = a - chosen.address;
    if (off > 0x10000) return undefined;
    return off === 0 ? chosen.name : `${chosen.name}+0x${off.toString(16)}`;
  }

  /** Exactly a label's address: its name (for disassembly operands). */
  exact(address: number): string | undefined {
    const d = this.describe(address);
    return d !== undefined && !d.includes('+') ? d : undefined;
  }

  /** The source line of the instruction covering `address`. */
  lineAt(address: number): LineEntry | undefined {
    const a = address >>> 0;
    let lo = 0, hi = this.lines.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const l = this.lines[mid]!;
      if (a < l.address) hi = mid - 1;
      else if (a >= l.address + Math.max(1, l.size)) lo = mid + 1;
      else return l;
    }
    return undefined;
  }

  /** The first address of `file:line` (file matched by suffix), or undefined. */
  addressOfLine(file: string, line: number): number | undefined {
    let best: number | undefined;
    for (const l of this.lines) {
      if (l.line !== line || !(l.file === file || l.file.endsWith('/' + file))) continue;
      if (best === undefined || l.address < best) best = l.address;
    }
    return best;
  }
}

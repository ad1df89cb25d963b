/**
 * Diagnostics of an assembly: every error and warning with its source position. The assembler
 * collects them all (it does not stop at the first error) and throws one AssemblyError at the end.
 */

/** A place in a source file; line and column are 1-based (column 0 when unknown). */
export interface SourcePosition {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export interface Diagnostic extends SourcePosition {
  readonly severity: 'error' | 'warning';
  readonly message: string;
}

/** Formats a diagnostic the way compilers do: `file:line:column: error: message`. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}`;
}

/** Assembly failed; `diagnostics` holds every error (and warning) found, in source order. */
export class AssemblyError extends Error {
  constructor(readonly diagnostics: readonly Diagnostic[]) {
    const errors = diagnostics.filter((d) => d.severity === 'error');
    super(errors.length === 1 ? formatDiagnostic(errors[0]!) : `${errors.length} errors:\n${errors.map(formatDiagnostic).join('\n')}`);
    this.name = 'AssemblyError';
  }
}

/**
 * Thrown inside the assembler for a problem with one line; caught per line and recorded as a
 * diagnostic so that assembly goes on to find the next error. Never escapes `assemble`.
 */
export class LineError extends Error {
  constructor(message: string, readonly column = 0) {
    super(message);
    this.name = 'LineError';
  }
}

/** Collects diagnostics, dropping exact duplicates (a line is seen once per pass). */
export class DiagnosticLog {
  private readonly seen = new Set<string>();
  readonly list: Diagnostic[] = [];

  add(severity: Diagnostic['severity'], at: SourcePosition, message: string): void {
    const key = `${severity}\0${at.file}\0${at.line}\0${at.column}\0${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.list.push({ severity, file: at.file, line: at.line, column: at.column, message });
  }

  error(at: SourcePosition, message: string): void {
    this.add('error', at, message);
  }

  warning(at: SourcePosition, message: string): void {
    this.add('warning', at, message);
  }

  get errorCount(): number {
    return this.list.reduce((n, d) => n + (d.severity === 'error' ? 1 : 0), 0);
  }
}

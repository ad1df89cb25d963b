/**
 * Process exit codes of the trapvisor CLI. All are even: odd codes belong to the guest, which
 * exits through isa-debug-exit (port 0xF4) with (n << 1) | 1, exactly as QEMU does.
 */
export const ExitCode = {
  OK: 0,
  /** Bad command-line arguments. */
  USAGE: 2,
  /** Assembly failed (diagnostics printed as file:line:column). */
  ASSEMBLY_ERROR: 4,
  /** An input file is unreadable or malformed (image, symbols, snapshot). */
  BAD_INPUT: 6,
  /** The guest stopped abnormally: triple fault, unhandled VM exit, invalid VM entry. */
  GUEST_CRASHED: 8,
  /** The instruction budget (--max-instructions) ran out before the guest stopped. */
  BUDGET_EXHAUSTED: 10,
  /**
   * `boot --fail-at N` made the primary of a replicated VM die at guest instruction N, as a crashed
   * host would (no 'done' to the backup, held output never released); the backup takes over.
   */
  PRIMARY_FAILED: 12,
  /** A bug in trapvisor itself (reported with a short message; set TRAPVISOR_DEBUG=1 for the trace). */
  INTERNAL_ERROR: 70,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * Validation of saved device state. A snapshot may come from another build or another host, so
 * loadState trusts nothing: it opens the record with StateReader, reads every field with its
 * expected kind and range, rejects fields it does not know, and only then assigns. Any mismatch is
 * a DeviceStateError naming the device and the field.
 */

export class DeviceStateError extends Error {
  constructor(
    readonly device: string,
    /** The offending field (dotted for nested records), or null when the record as a whole is wrong. */
    readonly field: string | null,
    readonly problem: string,
  ) {
    super(`${device} state${field === null ? '' : ` field '${field}'`}: ${problem}`);
    this.name = 'DeviceStateError';
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class StateReader {
  private readonly read = new Set<string>();

  private constructor(
    private readonly device: string,
    private readonly record: Record<string, unknown>,
    /** Prefix for field names of nested records ("channel0."). */
    private readonly path: string,
  ) {}

  /** Opens a top-level state record and checks its version. */
  static open(device: string, state: unknown, version: number): StateReader {
    if (!isRecord(state)) throw new DeviceStateError(device, null, 'not a state record');
    const reader = new StateReader(device, state, '');
    const v = state.version;
    if (v !== version) {
      throw new DeviceStateError(device, 'version',
        `version ${JSON.stringify(v)} is not supported (this build reads version ${version})`);
    }
    reader.read.add('version');
    return reader;
  }

  private fail(field: string, problem: string): never {
    throw new DeviceStateError(this.device, this.path + field, problem);
  }

  private take(field: string): unknown {
    this.read.add(field);
    if (!(field in this.record)) this.fail(field, 'missing');
    return this.record[field];
  }

  /** An integer in [min, max]. */
  uint(field: string, max: number, min = 0): number {
    const v = this.take(field);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(field, `expected an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  /** A finite number (times in virtual ns, tick counts). */
  finite(field: string, min = -Number.MAX_VALUE): number {
    const v = this.take(field);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
      this.fail(field, `expected a finite number >= ${min}, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  /** An integer in [min, max], or null. */
  optionalUint(field: string, max: number, min = 0): number | null {
    const v = this.take(field);
    if (v === null) return null;
    this.read.delete(field);
    return this.uint(field, max, min);
  }

  /** A finite number, or null. */
  optionalFinite(field: string, min?: number): number | null {
    const v = this.take(field);
    if (v === null) return null;
    this.read.delete(field);
    return this.finite(field, min);
  }

  bool(field: string): boolean {
    const v = this.take(field);
    if (typeof v !== 'boolean') this.fail(field, `expected a boolean, got ${JSON.stringify(v)}`);
    return v;
  }

  /** One of a fixed set of values (a mode number, a named phase). */
  oneOf<T extends string | number>(field: string, values: readonly T[]): T {
    const v = this.take(field);
    if (!values.includes(v as T)) this.fail(field, `expected one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
    return v as T;
  }

  /** A list of bytes of at most maxLength (FIFO contents, queued input). */
  bytes(field: string, maxLength: number): number[] {
    const v = this.take(field);
    if (!Array.isArray(v) || v.length > maxLength
      || !v.every((b) => typeof b === 'number' && Number.isInteger(b) && b >= 0 && b <= 0xff)) {
      this.fail(field, `expected a list of at most ${maxLength} bytes`);
    }
    return [...(v as number[])];
  }

  /** A nested named record (one PIC of the pair, one PIT channel). Call `end()` on it too. */
  nested(field: string): StateReader {
    const v = this.take(field);
    if (!isRecord(v)) this.fail(field, 'expected a record');
    return new StateReader(this.device, v, `${this.path}${field}.`);
  }

  /** Rejects fields this version does not define: they mean the snapshot is not what it claims. */
  end(): void {
    for (const key of Object.keys(this.record)) {
      if (!this.read.has(key)) this.fail(key, 'is not part of this state version');
    }
  }
}

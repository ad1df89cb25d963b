import { describe, expect, it } from 'vitest';
import {
  BusOverlapError, MmioBus, PortBus, type AccessSize, type MmioDevice, type PortDevice,
} from '../../emulator/devices/index.js';

/** A byte-wide (or wider) register file that logs every access it receives. */
class Registers implements PortDevice, MmioDevice {
  readonly log: string[] = [];
  readonly bytes: Uint8Array;
  constructor(readonly name: string, size: number, readonly dataWidth: AccessSize = 1) {
    this.bytes = new Uint8Array(size);
  }
  private read(offset: number, size: AccessSize): number {
    this.log.push(`r${size}@${offset}`);
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + this.bytes[offset + i]!;
    return v;
  }
  private write(offset: number, size: AccessSize, value: number): void {
    this.log.push(`w${size}@${offset}=${value.toString(16)}`);
    for (let i = 0; i < size; i++) this.bytes[offset + i] = Math.floor(value / 256 ** i) & 0xff;
  }
  portRead(o: number, s: AccessSize) { return this.read(o, s); }
  portWrite(o: number, s: AccessSize, v: number) { this.write(o, s, v); }
  mmioRead(o: number, s: AccessSize) { return this.read(o, s); }
  mmioWrite(o: number, s: AccessSize, v: number) { this.write(o, s, v); }
}

describe('PortBus', () => {
  it('refuses overlapping ranges with an error naming both devices', () => {
    const bus = new PortBus();
    bus.register(0x3f8, 8, new Registers('uart', 8));
    expect(() => bus.register(0x3fc, 8, new Registers('other', 8))).toThrow(BusOverlapError);
    expect(() => bus.register(0x3f0, 9, new Registers('other', 9))).toThrow(/other at 0x3f0-0x3f8: overlaps uart at 0x3f8-0x3ff/);
    expect(() => bus.register(0x3f9, 1, new Registers('inside', 1))).toThrow(BusOverlapError);
    // Adjacent ranges are fine.
    bus.register(0x3f0, 8, new Registers('below', 8));
    bus.register(0x400, 1, new Registers('above', 1));
    expect(bus.list().map((m) => m.device.name)).toEqual(['below', 'uart', 'above']);
  });

  it('refuses empty and out-of-space ranges', () => {
    const bus = new PortBus();
    expect(() => bus.register(0x10, 0, new Registers('x', 1))).toThrow(RangeError);
    expect(() => bus.register(0xffff, 2, new Registers('x', 2))).toThrow(RangeError);
  });

  it('reads all ones for the access size from unmapped ports and counts the accesses', () => {
    const bus = new PortBus();
    expect(bus.portRead(0x1234, 1)).toBe(0xff);
    expect(bus.portRead(0x1234, 2)).toBe(0xffff);
    expect(bus.portRead(0x1234, 4)).toBe(0xffffffff);
    bus.portWrite(0x80, 1, 0x12);
    bus.portWrite(0x80, 1, 0x13);
    bus.portWrite(0x1000, 4, 0xdeadbeef);
    expect(bus.unmappedWrites().get(0x80)).toBe(2);
    expect(bus.unmappedWrites().get(0x1000)).toBe(1);
    expect(bus.unmappedWrites().size).toBe(2);
    expect(bus.unmappedReads().get(0x1234)).toBe(3);
  });

  it('routes by offset from the base', () => {
    const bus = new PortBus();
    const dev = new Registers('dev', 8);
    bus.register(0x2f8, 8, dev);
    bus.portWrite(0x2fb, 1, 0x83);
    expect(dev.log).toEqual(['w1@3=83']);
    expect(bus.portRead(0x2fb, 1)).toBe(0x83);
  });

  it('splits word and dword accesses to byte-wide devices into byte cycles, low port first', () => {
    const bus = new PortBus();
    const dev = new Registers('dev', 8);
    bus.register(0x100, 8, dev);
    bus.portWrite(0x100, 4, 0x44332211);
    expect(dev.log).toEqual(['w1@0=11', 'w1@1=22', 'w1@2=33', 'w1@3=44']);
    dev.log.length = 0;
    expect(bus.portRead(0x102, 2)).toBe(0x4433);
    expect(dev.log).toEqual(['r1@2', 'r1@3']);
  });

  it('passes whole accesses to wide devices and fills unmapped bytes of a straddling access with 0xFF', () => {
    const bus = new PortBus();
    const wide = new Registers('wide', 4, 4);
    bus.register(0xf4, 4, wide);
    bus.portWrite(0xf4, 2, 0x1234);
    expect(wide.log).toEqual(['w2@0=1234']);
    const narrow = new Registers('narrow', 1);
    bus.register(0x61, 1, narrow);
    narrow.bytes[0] = 0x5a;
    // 0x61 is mapped, 0x62 is not: the high byte floats.
    expect(bus.portRead(0x61, 2)).toBe(0xff5a);
    expect(bus.unmappedReads().get(0x62)).toBe(1);
    // An access running past the end of a wide device's range is split too.
    expect(bus.portRead(0xf6, 4)).toBe(0xffff0000);
  });
});

describe('MmioBus', () => {
  it('maps windows anywhere in 32-bit space and refuses overlaps', () => {
    const bus = new MmioBus();
    const uart = new Registers('uart-mmio', 0x20, 4);
    bus.register(0xfed00000, 0x20, uart);
    expect(() => bus.register(0xfed0001c, 8, new Registers('x', 8))).toThrow(BusOverlapError);
    bus.mmioWrite(0xfed00004, 4, 0xcafef00d);
    expect(bus.mmioRead(0xfed00004, 4)).toBe(0xcafef00d);
    expect(uart.log).toEqual(['w4@4=cafef00d', 'r4@4']);
    expect(bus.mmioRead(0xfee00000, 4)).toBe(0xffffffff);
  });
});

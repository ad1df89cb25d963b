import { describe, expect, it } from 'vitest';
import { DebugExit, DeviceStateError, POST_CODE_HISTORY } from '../../emulator/devices/index.js';
import { PcBoard, throughJson } from './pc-board.js';

describe('isa-debug-exit', () => {
  it('asks the machine to stop with (n << 1) | 1 for a byte, word or dword write', () => {
    const b = new PcBoard();
    b.outb(0xf4, 0);
    b.outb(0xf4, 0x10);
    b.outw(0xf4, 0x1234);
    b.outd(0xf4, 0x7fffffff);
    expect(b.exitStatuses).toEqual([1, 0x21, 0x2469, 0xffffffff]);
    expect(b.debugExit.status).toBe(0xffffffff);
    b.outb(0xf7, 3); // anywhere in the 4-byte window
    expect(b.exitStatuses.at(-1)).toBe(7);
  });

  it('round-trips its state and rejects another version', () => {
    const a = new DebugExit(() => {});
    a.portWrite(0, 1, 2);
    const b = new DebugExit(() => {});
    b.loadState(throughJson(a.saveState()));
    expect(b.status).toBe(5);
    expect(() => b.loadState({ version: 9, requestedStatus: null })).toThrow(DeviceStateError);
  });
});

describe('debugcon (port 0xE9)', () => {
  it('sends written bytes to the sink and reads back 0xE9', () => {
    const b = new PcBoard();
    for (const c of 'dbg') b.outb(0xe9, c.charCodeAt(0));
    expect(String.fromCharCode(...b.debugconOut)).toBe('dbg');
    expect(b.inb(0xe9)).toBe(0xe9);
    const fresh = new PcBoard();
    fresh.debugcon.loadState(throughJson(b.debugcon.saveState()));
    expect(fresh.debugcon.written).toBe(3);
    expect(() => fresh.debugcon.loadState({ version: 1, bytesWritten: -1 })).toThrow(/bytesWritten/);
  });
});

describe('POST code port (0x80)', () => {
  it('records codes in order, bounded, and reads back the latest', () => {
    const b = new PcBoard();
    expect(b.inb(0x80)).toBe(0xff);
    for (let i = 0; i < POST_CODE_HISTORY + 10; i++) b.outb(0x80, i & 0xff);
    expect(b.post.latest).toBe((POST_CODE_HISTORY + 9) & 0xff);
    expect(b.post.history().length).toBe(POST_CODE_HISTORY);
    expect(b.post.history()[0]).toBe(10);
    expect(b.inb(0x80)).toBe(b.post.latest);
    const fresh = new PcBoard();
    fresh.post.loadState(throughJson(b.post.saveState()));
    expect(fresh.post.history()).toEqual(b.post.history());
    expect(() => fresh.post.loadState({ version: 2, lastCode: null, history: [] })).toThrow(DeviceStateError);
  });
});

describe('system control port B (0x61)', () => {
  it('keeps bits 0-3, toggles the refresh bit every 15.085 us of virtual time', () => {
    const b = new PcBoard();
    b.outb(0x61, 0xff);
    expect(b.inb(0x61) & 0x0f).toBe(0x0f);
    b.clock.set(1_000);
    const first = b.inb(0x61) & 0x10;
    b.clock.set(1_000 + 15_085);
    expect(b.inb(0x61) & 0x10).toBe(first ^ 0x10);
    const fresh = new PcBoard();
    fresh.portB.loadState(throughJson(b.portB.saveState()));
    expect(fresh.portB.saveState()).toEqual(b.portB.saveState());
    expect(() => fresh.portB.loadState({ version: 1, control: 0x10 })).toThrow(/control/);
  });
});

describe('every device on one board', () => {
  it('reads 0xFF from the unmapped ports around the devices and counts stray writes', () => {
    const b = new PcBoard();
    for (const port of [0x44, 0x60, 0x64, 0x2f8, 0x378, 0xcf8]) expect(b.inb(port)).toBe(0xff);
    b.outb(0x3ff, 0x5a); // SCR, the UART's last register; 0x400 is unmapped
    expect(b.inw(0x3ff)).toBe(0xff5a);
    expect(b.inw(0x3fe)).toBe(0x5ab0); // MSR (CTS DSR DCD) and SCR: two byte cycles
    b.outb(0x70, 0x8f);
    expect(b.bus.unmappedWrites().get(0x70)).toBe(1);
  });
});

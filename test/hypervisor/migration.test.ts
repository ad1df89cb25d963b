/**
 * Live migration between two hypervisors in one process: pre-copy rounds driven by EPT dirty
 * flags, stop-and-copy, resume. The migrated guest's console continues with no gap or repeat and
 * its final checksum over all its memory equals an unmigrated run's. A channel that breaks
 * mid-transfer leaves the source guest running untouched; a destination refuses garbage.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { assemble } from '../../assembler/index.js';
import { Hypervisor } from '../../hypervisor/hypervisor.js';
import { localChannel, migrateOut, MigrationReceiver, type MigrationChannel } from '../../hypervisor/migration.js';
import { SnapshotError } from '../../hypervisor/snapshot.js';

const SOURCE = join(__dirname, 'multi', 'dirty.asm');
const LIB = join(__dirname, '..', '..', 'guests', 'lib');
const MEMORY = 8 << 20;
const image = assemble(readFileSync(SOURCE, 'utf8'), { fileName: SOURCE, includePaths: [LIB] }).binary;

function host() {
  const hv = new Hypervisor({ ramSize: MEMORY + (8 << 20) });
  const out = { text: '' };
  return { hv, out, console: (b: Uint8Array) => { out.text += Buffer.from(b).toString('latin1'); } };
}

function uninterrupted(): string {
  const a = host();
  const vm = a.hv.createVm({ name: 'dirty', memory: MEMORY, console: a.console });
  a.hv.bootMultiboot(vm, image);
  a.hv.run(100_000_000);
  expect(vm.stop).toEqual({ kind: 'exit', status: 1 });
  return a.out.text;
}

describe('live migration', () => {
  const expected = uninterrupted();

  test('a guest dirtying memory is migrated mid-run and finishes exactly as an unmigrated run', async () => {
    expect(expected).toMatch(/^step 16 hash [0-9a-f]{8}\n/);
    expect(expected).toMatch(/final [0-9a-f]{8}\n$/);
    const src = host(), dst = host();
    const vm = src.hv.createVm({ name: 'dirty', memory: MEMORY, console: src.console });
    src.hv.bootMultiboot(vm, image);
    src.hv.run(300_000);
    expect(vm.stop).toBeNull();
    const receiver = new MigrationReceiver(dst.hv, dst.console);
    const report = await migrateOut(src.hv, vm, localChannel(receiver), { instructionsPerPage: 200, threshold: 8 });
    expect(report.ok).toBe(true);
    expect(report.rounds).toBeGreaterThanOrEqual(2);
    expect(report.pagesPerRound[0]).toBeGreaterThan(report.pagesPerRound[1]!); // the first round copies everything
    expect(vm.stop).toEqual({ kind: 'migrated' });
    expect(receiver.done).toBe(true);
    dst.hv.run(100_000_000);
    expect(receiver.vm!.stop).toEqual({ kind: 'exit', status: 1 });
    expect(src.out.text + dst.out.text).toBe(expected);
  });

  test('pre-copy runs the guest no further than its instruction budget, then stops and copies', async () => {
    const src = host(), dst = host();
    const vm = src.hv.createVm({ name: 'dirty', memory: MEMORY, console: src.console });
    src.hv.bootMultiboot(vm, image);
    src.hv.run(300_000);
    const before = src.hv.guestInstructions;
    const receiver = new MigrationReceiver(dst.hv, dst.console);
    // Without a limit the rounds would run the guest for 200 x pages each (the first alone >100,000).
    const report = await migrateOut(src.hv, vm, localChannel(receiver), { instructionsPerPage: 200, threshold: 8, maxInstructions: 5_000 });
    expect(report.ok).toBe(true);
    expect(src.hv.guestInstructions - before).toBeLessThanOrEqual(5_000);
    expect(src.hv.guestInstructions - before).toBeGreaterThan(4_000);
    dst.hv.run(100_000_000);
    expect(receiver.vm!.stop).toEqual({ kind: 'exit', status: 1 });
    expect(src.out.text + dst.out.text).toBe(expected);
  });

  test('a channel cut mid-transfer leaves the source guest running, untouched', async () => {
    const src = host(), dst = host();
    const vm = src.hv.createVm({ name: 'dirty', memory: MEMORY, console: src.console });
    src.hv.bootMultiboot(vm, image);
    src.hv.run(300_000);
    const receiver = new MigrationReceiver(dst.hv);
    let sent = 0;
    const inner = localChannel(receiver);
    const flaky: MigrationChannel = { send: async (m) => { if (++sent === 4) throw new Error('connection reset'); await inner.send(m); } };
    const report = await migrateOut(src.hv, vm, flaky, { instructionsPerPage: 200, threshold: 0 });
    expect(report.ok).toBe(false);
    expect(report.error).toMatch(/connection reset/);
    expect(vm.stop).toBeNull();
    expect(vm.ram.dirtyLog).toBeNull();
    src.hv.run(100_000_000);
    expect(src.out.text).toBe(expected);
    expect(receiver.done).toBe(false); // the destination never got 'done': it must not run anything
  });

  test('the destination refuses garbage and out-of-order messages', () => {
    const dst = host();
    const r = new MigrationReceiver(dst.hv);
    const refuse = (m: unknown, why: RegExp) => expect(() => r.receive(m)).toThrow(why);
    refuse(null, /not a message/);
    refuse({ type: 'pages', round: 0, memory: { pageSize: 4096, pages: [], data: '' } }, /pages before begin/);
    refuse({ type: 'begin', protocol: 'something/9', name: 'x', memorySize: MEMORY, weight: 1 }, /protocol/);
    refuse({ type: 'begin', protocol: 'trapvisor-migration/1', name: 'x', memorySize: 12345, weight: 1 }, /bad memory size/);
    r.receive({ type: 'begin', protocol: 'trapvisor-migration/1', name: 'x', memorySize: MEMORY, weight: 1 });
    refuse({ type: 'pages', round: 1, memory: { pageSize: 4096, pages: [1], data: 'garbage!' } }, /decompress|bytes for/);
    expect(() => r.receive({ type: 'state', state: { name: 'x' }, memory: { pageSize: 4096, pages: [], data: '' } })).toThrow(SnapshotError);
    refuse({ type: 'done' }, /done before state/);
    refuse({ type: 'mystery' }, /unknown message type/);
    expect(dst.hv.vms.length).toBe(0);
  });
});

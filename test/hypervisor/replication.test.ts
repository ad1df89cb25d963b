/**
 * Fault tolerance by continuous checkpointing (Remus), two hypervisors in one process: a guest
 * that dirties memory and prints a running hash is replicated in epochs; its primary "dies"
 * mid-epoch and the backup takes over from the last committed checkpoint. The output released by
 * the primary plus the backup's output is exactly an unreplicated run's, and so is the final
 * memory. Output is never released before the checkpoint after it is acknowledged. A damaged
 * checkpoint is discarded whole and the previous one stays committed.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { assemble } from '../../assembler/index.js';
import { Hypervisor } from '../../hypervisor/hypervisor.js';
import {
  localReplicationChannel, OutputCommit, replicate, ReplicationBackup, type CheckpointBody, type ReplicationChannel, type ReplicationMessage,
} from '../../hypervisor/replication.js';
import { checksumOf, SnapshotError } from '../../hypervisor/snapshot.js';

const SOURCE = join(__dirname, 'multi', 'dirty.asm');
const LIB = join(__dirname, '..', '..', 'guests', 'lib');
const MEMORY = 8 << 20;
const image = assemble(readFileSync(SOURCE, 'utf8'), { fileName: SOURCE, includePaths: [LIB] }).binary;
const latin1 = (b: Uint8Array) => Buffer.from(b).toString('latin1');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The unreplicated run: its console, the guest instruction at which each byte was written, its end. */
function unreplicated() {
  const hv = new Hypervisor({ ramSize: MEMORY + (8 << 20) });
  let text = '';
  const writtenAt: number[] = [];
  const vm = hv.createVm({ name: 'dirty', memory: MEMORY, console: (b) => { text += latin1(b); for (const _ of b) writtenAt.push(hv.guestInstructions); } });
  hv.bootMultiboot(vm, image);
  hv.run(100_000_000);
  expect(vm.stop).toEqual({ kind: 'exit', status: 1 });
  return { text, writtenAt, instructions: hv.guestInstructions, memory: sha(vm.ram.view()) };
}

/** A primary: its hypervisor, VM and output commit; `released` is what the outside world saw. */
function primary() {
  const hv = new Hypervisor({ ramSize: MEMORY + (8 << 20) });
  const seen = { released: '' };
  const output = new OutputCommit((b) => { seen.released += latin1(b); });
  const vm = hv.createVm({ name: 'dirty', memory: MEMORY, console: output.write });
  hv.bootMultiboot(vm, image);
  return { hv, vm, output, seen };
}

/** Fails over to `backup` in a new hypervisor and runs the guest to its end. */
function takeOver(backup: ReplicationBackup) {
  const hv = new Hypervisor({ ramSize: MEMORY + (8 << 20) });
  let text = '';
  const vm = backup.failover(hv, (b) => { text += latin1(b); });
  hv.run(100_000_000);
  return { vm, text, instructions: hv.guestInstructions, memory: sha(vm.ram.view()) };
}

describe('replication (Remus)', () => {
  const whole = unreplicated();
  /** Bytes of the unreplicated output written before guest instruction `at`. */
  const writtenBefore = (at: number) => whole.writtenAt.filter((w) => w < at).length;

  test('the primary dies mid-epoch; the backup re-executes the lost epoch and the output has no gap or repeat', async () => {
    expect(whole.text).toMatch(/^step 16 hash [0-9a-f]{8}\n/);
    const p = primary();
    const backup = new ReplicationBackup();
    const local = localReplicationChannel(backup);
    // Watch every checkpoint as it leaves: nothing written since the previous one may be out yet.
    const watched: { epoch: number; at: number; released: number; held: string }[] = [];
    const channel: ReplicationChannel = {
      send: async (m) => {
        if (m.type === 'checkpoint') watched.push({ epoch: m.body.epoch, at: m.body.at, released: p.seen.released.length, held: latin1(p.output.heldBytes) });
        await local.send(m);
      },
      sever: () => local.sever(),
    };
    const report = await replicate(p.hv, p.vm, channel, p.output, { epoch: 20_000, failAt: 135_000 });

    // The host died at 135,000, in epoch 7: checkpoint 6 (at 120,000) was the last committed.
    expect(report.ok).toBe(false);
    expect(report.error).toBeUndefined();
    expect(local.severed).toBe(true);
    expect(backup.done).toBe(false);
    const f = report.failure!;
    expect(f.at).toBe(135_000);
    expect([f.committedEpoch, f.committedAt, f.reexecuted]).toEqual([6, 120_000, 15_000]);
    expect(backup.committed!.epoch).toBe(6);
    expect(backup.committed!.at).toBe(120_000);
    expect(report.epochs.map((e) => e.at)).toEqual([0, 20_000, 40_000, 60_000, 80_000, 100_000, 120_000]);
    expect(report.epochs[0]!.pages).toBeGreaterThan(0); // the first checkpoint: every non-zero page
    expect(report.epochs.slice(1).every((e) => e.pages > 400)).toBe(true); // the guest scatters stores over its 2 MiB buffer

    // Output commit: at each checkpoint, exactly what was written before the previous one is out.
    watched.forEach((w, i) => {
      const previous = i === 0 ? 0 : watched[i - 1]!.at;
      expect(w.released).toBe(writtenBefore(previous));
      expect(w.held).toBe(whole.text.slice(writtenBefore(previous), writtenBefore(w.at)));
    });
    expect(p.seen.released).toBe(whole.text.slice(0, writtenBefore(120_000)));
    // What was held at the failure never got out; it is the next line of the run.
    expect(latin1(f.unreleased)).toBe(whole.text.slice(writtenBefore(120_000), writtenBefore(135_000)));
    expect(latin1(f.unreleased)).toMatch(/^step 208 hash [0-9a-f]{8}\n$/);

    const b = takeOver(backup);
    expect(b.vm.stop).toEqual({ kind: 'exit', status: 1 });
    expect(b.text.startsWith(latin1(f.unreleased))).toBe(true); // the backup writes the lost output again
    expect(p.seen.released + b.text).toBe(whole.text);
    expect(b.instructions).toBe(whole.instructions);
    expect(b.memory).toBe(whole.memory);
    expect(report.output.maxInstructions).toBeLessThanOrEqual(20_000); // output waits at most an epoch (in guest time)
  });

  test('a damaged or truncated checkpoint is discarded whole; the previous one stays committed', async () => {
    const p = primary();
    const backup = new ReplicationBackup();
    const local = localReplicationChannel(backup);
    // Checkpoint 4 arrives with half its pages: the checksum no longer matches.
    const damaging: ReplicationChannel = {
      send: (m) => {
        if (m.type !== 'checkpoint' || m.body.epoch !== 4) return local.send(m);
        const half = m.body.memory.pages.length >> 1;
        return local.send({ ...m, body: { ...m.body, memory: { ...m.body.memory, pages: m.body.memory.pages.slice(0, half), data: m.body.memory.data.slice(0, half) } } });
      },
      sever: () => local.sever(),
    };
    const report = await replicate(p.hv, p.vm, damaging, p.output, { epoch: 20_000 });
    expect(report.ok).toBe(false);
    expect(report.error).toMatch(/checkpoint 4 checksum mismatch/);
    expect(report.epochs.map((e) => e.epoch)).toEqual([0, 1, 2, 3]);
    expect(backup.committed!.epoch).toBe(3);

    // The backup is gone for the primary: its guest runs on unprotected, its output goes straight out.
    p.hv.run(100_000_000);
    expect(p.vm.stop).toEqual({ kind: 'exit', status: 1 });
    expect(p.seen.released).toBe(whole.text);

    // Nor does a well-sealed checkpoint that does not fit, or one out of order, change anything.
    const at3 = backup.committed!.at;
    const body = (over: Partial<CheckpointBody>): ReplicationMessage => {
      const b = { ...({ epoch: 4, at: at3 + 1, state: backup.committed!.state, memory: { pageSize: 4096, pages: [], data: '' } } as CheckpointBody), ...over };
      return { type: 'checkpoint', checksum: checksumOf(b), body: b };
    };
    const refuse = (m: unknown, why: RegExp) => expect(() => backup.receive(JSON.parse(JSON.stringify(m)))).toThrow(why);
    const onePage = deflateRawSync(new Uint8Array(4096).fill(0x5a)).toString('base64');
    refuse(body({ memory: { pageSize: 4096, pages: [MEMORY / 4096], data: onePage } }), /page 2048 is outside 8388608 bytes/);
    refuse(body({ memory: { pageSize: 4096, pages: [1, 2], data: onePage } }), /holds 4096 bytes for 2 pages/);
    refuse(body({ epoch: 5 }), /checkpoint 5 out of order \(expected 4\)/);
    refuse(body({ at: at3 - 1 }), /before the last one's/);
    refuse(body({ state: { ...backup.committed!.state, memorySize: MEMORY * 2 } }), /memory/);
    refuse({ ...body({}), checksum: '0'.repeat(64) }, /checksum mismatch/);
    expect(backup.committed!.epoch).toBe(3);
    expect(backup.committed!.at).toBe(at3);

    // Failover from checkpoint 3 continues exactly where its released output stopped.
    const releasedThrough3 = report.epochs.reduce((n, e) => n + e.released, 0);
    expect(releasedThrough3).toBe(writtenBefore(at3));
    const b = takeOver(backup);
    expect(whole.text.slice(0, releasedThrough3) + b.text).toBe(whole.text);
    expect(b.memory).toBe(whole.memory);
  });

  test('a primary that ends cleanly leaves the backup nothing to take over', async () => {
    const p = primary();
    const backup = new ReplicationBackup();
    const report = await replicate(p.hv, p.vm, localReplicationChannel(backup), p.output, { epoch: 500_000 });
    expect(report.ok).toBe(true);
    expect(report.failure).toBeNull();
    expect(p.vm.stop).toEqual({ kind: 'exit', status: 1 });
    expect(p.seen.released).toBe(whole.text);
    expect(p.vm.ram.dirtyLog).toBeNull();
    expect(report.epochs.map((e) => e.at)).toEqual([0, 500_000, 1_000_000, 1_500_000, 2_000_000, whole.instructions]);
    expect(backup.done).toBe(true);
    expect(backup.committed!.state.stop).toEqual({ kind: 'exit', status: 1 });
    expect(() => backup.failover(new Hypervisor({ ramSize: MEMORY + (8 << 20) }))).toThrow(/ended cleanly/);
  });

  test('the backup refuses garbage and out-of-order messages, and has nothing to run before a checkpoint', () => {
    const backup = new ReplicationBackup();
    const refuse = (m: unknown, why: RegExp) => expect(() => backup.receive(m)).toThrow(why);
    refuse(null, /not a message/);
    refuse({ type: 'checkpoint', checksum: '', body: {} }, /checkpoint before begin/);
    refuse({ type: 'begin', protocol: 'trapvisor-migration/1', name: 'x', memorySize: MEMORY, weight: 1 }, /protocol/);
    refuse({ type: 'begin', protocol: 'trapvisor-replication/1', name: 'x', memorySize: 3, weight: 1 }, /bad memory size 3/);
    expect(backup.begun).toBe(false);
    expect(backup.receive({ type: 'begin', protocol: 'trapvisor-replication/1', name: 'x', memorySize: MEMORY, weight: 1 })).toBeNull();
    refuse({ type: 'begin', protocol: 'trapvisor-replication/1', name: 'x', memorySize: MEMORY, weight: 1 }, /begin twice/);
    refuse({ type: 'checkpoint', checksum: 'x' }, /body missing/);
    refuse({ type: 'checkpoint', checksum: 'x', body: { epoch: 0 } }, /checksum mismatch/);
    const bad = { epoch: 0, at: 0, state: { name: 'x' }, memory: { pageSize: 4096, pages: [], data: '' } };
    expect(() => backup.receive({ type: 'checkpoint', checksum: checksumOf(bad), body: bad })).toThrow(SnapshotError);
    refuse({ type: 'done' }, /done before any checkpoint/);
    refuse({ type: 'mystery' }, /unknown message type/);
    expect(backup.committed).toBeNull();
    const hv = new Hypervisor({ ramSize: MEMORY + (8 << 20) });
    expect(() => backup.failover(hv)).toThrow(/no checkpoint was committed/);
    expect(hv.vms.length).toBe(0);
  });
});

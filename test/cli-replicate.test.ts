/**
 * Fault tolerance between two trapvisor processes over TCP on loopback: `trapvisor replicate
 * --listen PORT` (the backup) and `trapvisor boot IMAGE --replicate-to 127.0.0.1:PORT --fail-at N`
 * (a primary that dies at guest instruction N). The primary's stdout plus the backup's equals an
 * unreplicated run. The backup refuses garbage and keeps waiting; a checkpoint cut off mid-frame
 * is discarded and the backup resumes from the one before.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { assemble } from '../assembler/index.js';
import { ExitCode } from '../hypervisor/cli/exit-codes.js';
import { frame, FrameReader } from '../hypervisor/cli/frames.js';
import { listenForReplication } from '../hypervisor/cli/replicate.js';
import { runVms } from '../hypervisor/cli/run.js';
import { Hypervisor } from '../hypervisor/hypervisor.js';
import { localReplicationChannel, OutputCommit, replicate, ReplicationBackup, type ReplicationMessage } from '../hypervisor/replication.js';
import { captureIo, CLI, freePort, startCli } from './cli-processes.js';

const GUEST = join(__dirname, 'hypervisor', 'multi', 'dirty.asm');
const MEMORY = 8 << 20;
let whole = '';
beforeAll(() => {
  execFileSync(process.execPath, [join(__dirname, '..', 'scripts', 'build.mjs')]);
  const run = spawnSync(process.execPath, [CLI, 'boot', GUEST, '--mem', '8M'], { encoding: 'latin1' });
  expect(run.status).toBe(1);
  whole = run.stdout;
});

const startBackup = (port: number) => startCli(['replicate', '--listen', String(port)], 'backup waiting for a primary');

/** Sends frames on a new connection; resolves with the backup's replies once it closes the connection. */
async function talk(port: number, bytes: Buffer): Promise<unknown[]> {
  const s: Socket = connect(port, '127.0.0.1');
  s.on('error', () => {});
  await new Promise<void>((r) => s.on('connect', () => r()));
  const reader = new FrameReader();
  const replies: unknown[] = [];
  s.on('data', (d) => replies.push(...reader.push(d)));
  s.write(bytes);
  await new Promise<void>((r) => s.on('close', () => r()));
  return replies;
}

describe('trapvisor replicate over TCP', () => {
  it('a primary that dies at --fail-at hands over to the backup: the two stdouts are one unreplicated run', async () => {
    const port = await freePort();
    const backup = startBackup(port);
    await backup.ready;
    const p = startCli(['boot', GUEST, '--mem', '8M', '--replicate-to', `127.0.0.1:${port}`, '--epoch', '20000', '--fail-at', '135000']);
    expect(await p.exited).toBe(ExitCode.PRIMARY_FAILED);
    expect(p.err()).toMatch(/replication: the primary host fails \(--fail-at\) at guest instruction 135000\n/);
    expect(p.err()).toMatch(/ {2}6 epochs of 20,000 guest instructions: pages per epoch \d+ \/ [\d.]+ \/ \d+ \(min \/ mean \/ max\)/);
    expect(p.err()).toMatch(/ {2}the backup resumes from checkpoint 6 \(guest instruction 120000\) and re-executes 15000 instructions\n/);
    expect(p.err()).toMatch(/ {2}23 bytes of output held back since that checkpoint are lost with this host/);
    expect(await backup.exited).toBe(1); // the guest's own status, from the backup
    expect(backup.err()).toMatch(/trapvisor: failover: the primary was lost \(.*\) without 'done'; 7 checkpoints committed \(\d+ KiB received\), the last at guest instruction 120000; resuming VM dirty from checkpoint 6\n/);
    expect(p.out()).toBe(whole.slice(0, p.out().length));
    expect(p.out() + backup.out()).toBe(whole);
    expect(backup.out()).toMatch(/^step 208 hash/); // the line the primary held back when it died
  });

  it('refuses garbage and keeps waiting; a checkpoint cut off mid-frame is discarded and the one before is resumed', async () => {
    // A real checkpoint stream, recorded from a primary in this process.
    const source = readFileSync(GUEST, 'utf8');
    const image = assemble(source, { fileName: GUEST, includePaths: [join(__dirname, '..', 'guests', 'lib')] }).binary;
    const hv = new Hypervisor({ ramSize: MEMORY + (8 << 20) });
    const output = new OutputCommit(() => {});
    const vm = hv.createVm({ name: 'dirty', memory: MEMORY, console: output.write });
    hv.bootMultiboot(vm, image);
    const messages: ReplicationMessage[] = [];
    const local = localReplicationChannel(new ReplicationBackup());
    const report = await replicate(hv, vm, { send: async (m) => { messages.push(m); await local.send(m); }, sever: () => {} }, output, { epoch: 20_000, budget: 100_000 });
    expect(report.ok).toBe(true);
    expect(messages.map((m) => m.type === 'checkpoint' ? m.body.epoch : m.type)).toEqual(['begin', 0, 1, 2, 3, 4, 5, 'done']);

    const port = await freePort();
    const backup = startBackup(port);
    await backup.ready;
    expect(await talk(port, Buffer.from('GET / HTTP/1.1\r\n\r\n'))).toEqual([{ type: 'refused', error: expect.stringMatching(/frame of \d+ bytes is larger than/) }]);
    expect(await talk(port, frame({ type: 'begin', protocol: 'trapvisor-replication/1', name: 'x', memorySize: 3 }))).toEqual([{ type: 'refused', error: 'replication: bad memory size 3' }]);
    expect(backup.err()).toMatch(/refused a connection: replication: bad memory size 3; still waiting for a primary/);

    // begin, checkpoints 0-3 whole, then half of checkpoint 4's frame, and the connection drops.
    const s = connect(port, '127.0.0.1');
    s.on('error', () => {});
    await new Promise<void>((r) => s.on('connect', () => r()));
    const acks: unknown[] = [];
    const reader = new FrameReader();
    s.on('data', (d) => acks.push(...reader.push(d)));
    for (const m of messages.slice(0, 5)) s.write(frame(m));
    const fifth = frame(messages[5]!);
    s.write(fifth.subarray(0, fifth.length >> 1));
    await expect.poll(() => acks.length).toBe(4);
    expect(acks).toEqual([0, 1, 2, 3].map((epoch) => ({ type: 'ack', epoch })));
    s.destroy();
    expect(await backup.exited).toBe(1);
    expect(backup.err()).toMatch(new RegExp(`a partial checkpoint \\(${fifth.length >> 1} bytes\\) was discarded; 4 checkpoints committed .* the last at guest instruction 60000; resuming VM dirty from checkpoint 3\\n`));
    const releasedThrough3 = report.epochs.slice(0, 4).reduce((n, e) => n + e.released, 0);
    expect(releasedThrough3).toBeGreaterThan(0);
    expect(whole.slice(0, releasedThrough3) + backup.out()).toBe(whole);
  });

  it('a primary whose checkpoint is refused is told so, and the backup runs nothing', async () => {
    const port = await freePort();
    const backup = startBackup(port);
    await backup.ready;
    const begin = frame({ type: 'begin', protocol: 'trapvisor-replication/1', name: 'x', memorySize: MEMORY, weight: 1 });
    const damaged = frame({ type: 'checkpoint', checksum: '0'.repeat(64), body: { epoch: 0, at: 0 } });
    expect(await talk(port, Buffer.concat([begin, damaged]))).toEqual([{ type: 'refused', error: 'replication: checkpoint 0 checksum mismatch: it arrived damaged' }]);
    expect(await backup.exited).toBe(ExitCode.BAD_INPUT);
    expect(backup.err()).toMatch(/refused the primary's message: replication: checkpoint 0 checksum mismatch: it arrived damaged; no checkpoint committed, but the primary was told and runs on unprotected, so nothing runs here/);
    expect(backup.out()).toBe('');
  });

  it('a primary that stops cleanly (its budget spent) tells the backup, which has nothing to take over', async () => {
    const port = await freePort();
    const b = captureIo(), p = captureIo();
    const backup = listenForReplication(port, '127.0.0.1', b.io, { engine: 'blocks' });
    const code = await runVms([GUEST], { mem: '8M', cmdline: '', engine: 'blocks', include: [], replicateTo: String(port), epoch: '20000', maxInstructions: '50000' }, p.io);
    expect(code).toBe(ExitCode.BUDGET_EXHAUSTED);
    expect(p.o.stderr).toMatch(/^replication ended cleanly after 4 checkpoints: the backup has nothing to take over\n/);
    expect(p.o.stderr).toMatch(/instruction budget of 50000 exhausted before the guest stopped/);
    expect(p.o.stdout).toBe(whole.slice(0, p.o.stdout.length));
    expect(p.o.stdout).toMatch(/step 80 hash [0-9a-f]{8}\n$/);
    expect(await backup).toBe(ExitCode.OK);
    expect(b.o.stderr).toMatch(/the primary ended cleanly after 4 checkpoints committed \(\d+ KiB received\), the last at guest instruction 50000; nothing to take over/);
    expect(b.o.stdout).toBe('');
  });

  it('refuses --fail-at and --epoch without --replicate-to, and several VMs', async () => {
    const io = { stdout: () => {}, stderr: () => {}, stdin: null };
    const opts = { mem: '8M', cmdline: '', engine: 'blocks', include: [] };
    await expect(runVms([GUEST], { ...opts, failAt: '1000' }, io)).rejects.toThrow(/--fail-at goes with --replicate-to/);
    await expect(runVms([GUEST], { ...opts, epoch: '1000' }, io)).rejects.toThrow(/--epoch goes with --replicate-to/);
    await expect(runVms([GUEST, GUEST], { ...opts, replicateTo: '1' }, io)).rejects.toThrow(/one VM at a time/);
    await expect(runVms([GUEST], { ...opts, replicateTo: '1', epoch: '10' }, io)).rejects.toThrow(/--epoch must be at least 1000/);
  });
});

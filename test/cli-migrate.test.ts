/**
 * Live migration between two trapvisor processes over TCP on loopback: `trapvisor migrate --listen
 * PORT` and `trapvisor boot IMAGE --migrate-to 127.0.0.1:PORT --after N`. The two consoles
 * together equal an unmigrated run; a connection cut mid-transfer leaves the source running; a
 * destination fed garbage refuses it and runs nothing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../hypervisor/cli/exit-codes.js';
import { runVms } from '../hypervisor/cli/run.js';
import { captureIo, CLI, freePort, startCli } from './cli-processes.js';

const GUEST = join(__dirname, 'hypervisor', 'multi', 'dirty.asm');
beforeAll(() => { execFileSync(process.execPath, [join(__dirname, '..', 'scripts', 'build.mjs')]); });

const startDestination = (port: number) => startCli(['migrate', '--listen', String(port)], 'waiting for a migration');

const OPTS = { mem: '8M', cmdline: '', engine: 'blocks', include: [] };

describe('trapvisor migrate over TCP', () => {
  it('moves a running guest to another process, whose console continues exactly', async () => {
    const whole = spawnSync(process.execPath, [CLI, 'boot', GUEST, '--mem', '8M'], { encoding: 'latin1' });
    expect(whole.status).toBe(1);
    const port = await freePort();
    const dst = startDestination(port);
    await dst.ready;
    const { o, io } = captureIo();
    const code = await runVms([GUEST], { ...OPTS, migrateTo: `127.0.0.1:${port}`, after: '300000' }, io);
    expect(code).toBe(ExitCode.OK);
    expect(o.stderr).toMatch(/migration done\n {2}rounds \d+, pages per round \d+/);
    expect(o.stderr).toMatch(/downtime [\d.]+ ms \(\d+ guest instructions\)/);
    expect(await dst.exited).toBe(1);
    expect(o.stdout + dst.out()).toBe(whole.stdout);
  });

  it('keeps the guest running at the source when the connection is cut mid-transfer', async () => {
    const server = createServer((socket) => { socket.once('data', () => socket.destroy()); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const whole = spawnSync(process.execPath, [CLI, 'boot', GUEST, '--mem', '8M'], { encoding: 'latin1' });
    const { o, io } = captureIo();
    const code = await runVms([GUEST], { ...OPTS, migrateTo: `127.0.0.1:${port}`, after: '300000' }, io);
    server.close();
    expect(o.stderr).toMatch(/migration failed: /);
    expect(o.stderr).toMatch(/the guest keeps running here/);
    expect(code).toBe(1);
    expect(o.stdout).toBe(whole.stdout);
  });

  it('a destination fed garbage refuses it and runs nothing', async () => {
    const port = await freePort();
    const dst = startDestination(port);
    await dst.ready;
    const s = connect(port, '127.0.0.1');
    await new Promise<void>((r) => s.on('connect', () => r()));
    const body = Buffer.from('{"type":"begin","protocol":"trapvisor-migration/1","name":"x","memorySize":3}');
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length);
    s.write(Buffer.concat([head, body]));
    s.on('error', () => {});
    expect(await dst.exited).toBe(ExitCode.BAD_INPUT);
    expect(dst.err()).toMatch(/migration refused: migration: bad memory size 3; nothing runs/);
    expect(dst.out()).toBe('');
    s.destroy();
  });
});

// A real ferry-server for the console's tests: a fresh SQLite database with
// the demo data, an administrator, and the server listening on a free port.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

export const ADMIN = { username: 'ann', password: 'console-pass-1' };

/** The server binary: FERRY_SERVER_BIN, else the debug build in CARGO_TARGET_DIR (default ~/.cache/ferry/target). */
export function serverBinary(): string {
  if (process.env.FERRY_SERVER_BIN) return process.env.FERRY_SERVER_BIN;
  const target = process.env.CARGO_TARGET_DIR || join(homedir(), '.cache/ferry/target');
  return join(target, 'debug/ferry-server');
}

/** The environment without FERRY_* settings of whoever runs the tests. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('FERRY_')) env[k] = v;
  env.RUST_LOG ??= 'warn';
  return env;
}

/** Runs `ferry-server args…` to its end, with `input` on its standard input. */
function run(bin: string, args: string[], input = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env: cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (e) => reject(new Error(`could not run ${bin}: ${e.message}`)));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`ferry-server ${args.join(' ')} exited with ${code}:\n${out}`))));
    child.stdin.end(input);
  });
}

/** A port nobody listens on now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', ok);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((ok) => server.close(() => ok()));
  return port;
}

export interface FerryServer {
  url: string;
  /** What the server printed, for a failing test's report. */
  log: () => string;
  stop: () => Promise<void>;
}

export async function startServer(): Promise<FerryServer> {
  const bin = serverBinary();
  const dir = await mkdtemp(join(tmpdir(), 'ferry-admin-e2e-'));
  const db = `sqlite://${join(dir, 's.db')}`;
  await run(bin, ['--db', db, 'seed-demo']);
  await run(bin, ['--db', db, 'user', 'add', ADMIN.username, '--admin'], `${ADMIN.password}\n`);

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const child: ChildProcess = spawn(bin, ['--db', db, 'serve', '--listen', `127.0.0.1:${port}`, '--metrics-listen', 'off'], {
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));

  const stop = async () => {
    if (exited === undefined) {
      const gone = new Promise<void>((ok) => child.once('exit', () => ok()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await gone;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited !== undefined) {
      await stop();
      throw new Error(`ferry-server serve exited with ${exited}:\n${output}`);
    }
    try {
      const res = await fetch(`${url}/v1/health`);
      if (res.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`ferry-server did not answer GET /v1/health within 30 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, log: () => output, stop };
}

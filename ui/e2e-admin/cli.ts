// The real command-line client (`ferry`) against the test server: a device
// with its own profile, to prove what the console changed reaches clients.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

/** The CLI binary: FERRY_CLI_BIN, else the debug build in CARGO_TARGET_DIR (default ~/.cache/ferry/target). */
export function cliBinary(): string {
  if (process.env.FERRY_CLI_BIN) return process.env.FERRY_CLI_BIN;
  const target = process.env.CARGO_TARGET_DIR || join(homedir(), '.cache/ferry/target');
  return join(target, 'debug/ferry');
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliDevice {
  dir: string;
  /** `ferry --profile DIR args…`, with `input` on standard input. */
  run: (args: string[], input?: string) => Promise<Run>;
  /** As `run`, failing with the CLI's own words unless it exits 0; its standard output. */
  ok: (args: string[], input?: string) => Promise<string>;
  /** `--json` output, parsed. */
  json: <T>(args: string[]) => Promise<T>;
  remove: () => Promise<void>;
}

/** The environment without FERRY_* settings of whoever runs the tests; no keyring, a fixed passphrase. */
function env(): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('FERRY_')) out[k] = v;
  out.FERRY_KEYRING = 'off';
  out.FERRY_PASSPHRASE = 'some-passphrase';
  out.RUST_LOG ??= 'warn';
  return out;
}

/** A new profile directory, signed in to `url` as `username`. */
export async function cliDevice(url: string, username: string, password: string): Promise<CliDevice> {
  const bin = cliBinary();
  const dir = await mkdtemp(join(tmpdir(), 'ferry-admin-cli-'));
  const run = (args: string[], input = ''): Promise<Run> =>
    new Promise((resolve, reject) => {
      const child = spawn(bin, ['--profile', dir, ...args], { env: env(), stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', (e) => reject(new Error(`could not run ${bin}: ${e.message}`)));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(input);
    });
  const ok = async (args: string[], input = '') => {
    const r = await run(args, input);
    if (r.code !== 0) throw new Error(`ferry ${args.join(' ')} exited with ${r.code}:\n${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const device: CliDevice = {
    dir,
    run,
    ok,
    json: async <T>(args: string[]) => JSON.parse(await ok(['--json', ...args])) as T,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
  await ok(['login', url, username], `${password}\n`);
  return device;
}

/** A record as `ferry --json ls` and `show` print it. */
export interface CliRecord {
  id: string;
  fields: Record<string, unknown>;
}

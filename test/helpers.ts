import { execa, type ResultPromise } from 'execa';
import { chmodSync, closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, expect } from 'vitest';
import { ModelctlError } from '../src/errors.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = join(ROOT, 'bin', 'modelctl.cjs');
export const FIXTURES = join(ROOT, 'fixtures', 'models');

const made: string[] = [];
afterEach(() => {
  while (made.length) rmSync(made.pop() as string, { recursive: true, force: true });
});

const kept: string[] = [];
afterAll(() => {
  while (kept.length) rmSync(kept.pop() as string, { recursive: true, force: true });
});

/** A temporary folder kept for the whole test file (what its tests share: built source models), removed after it. */
export function fileDir(prefix = 'modelctl-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  kept.push(dir);
  return dir;
}

/** A fresh temporary folder, removed after the test. */
export function tempDir(prefix = 'modelctl-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/**
 * Writes a real safetensors file of about `bytes` bytes (one float32 tensor of random values), streamed in
 * chunks so that large files cost no memory.
 */
export function writeSafetensors(path: string, bytes: number, seedByte?: number): void {
  const elements = Math.max(1, Math.floor(bytes / 4));
  let header = JSON.stringify({ weight: { dtype: 'F32', shape: [elements], data_offsets: [0, elements * 4] } });
  header += ' '.repeat((8 - (header.length % 8)) % 8);
  const fd = openSync(path, 'w');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  writeSync(fd, len);
  writeSync(fd, header);
  const chunk = seedByte === undefined ? randomBytes(1 << 20) : Buffer.alloc(1 << 20, seedByte);
  let left = elements * 4;
  while (left > 0) {
    const n = Math.min(left, chunk.length);
    writeSync(fd, chunk, 0, n);
    left -= n;
  }
  closeSync(fd);
}

export function writeText(path: string, text: string): string {
  writeFileSync(path, text);
  return path;
}

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs the built binary with a registry home, no colour, no TTY; never throws on a non-zero exit. */
export async function cli(args: string[], options: { home?: string; env?: Record<string, string>; cwd?: string } = {}): Promise<CliResult> {
  const r = await execa('node', [BIN, ...args], {
    reject: false,
    cwd: options.cwd ?? ROOT,
    env: { NO_COLOR: '1', ...(options.home ? { MODELCTL_HOME: options.home } : {}), ...options.env },
    stdin: 'ignore',
  });
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * `modelctl serve --port 0 --json` spawned (from `bin`, by default the built one), with its address once it listens;
 * stop it with a signal (`child.kill('SIGTERM')`).
 */
export function startServe(home: string, args: string[] = [], bin = BIN) {
  const child = execa('node', [bin, 'serve', '--port', '0', '--json', ...args], {
    reject: false,
    env: { NO_COLOR: '1', MODELCTL_HOME: home },
    stdin: 'ignore',
    buffer: true,
  });
  return { child, url: listeningUrl(child) };
}

/**
 * The address a spawned `modelctl serve --json` (the built binary, or one inside an image) listens on: the url of
 * the first line it prints. Rejects when the process exits first, with its stderr.
 */
export function listeningUrl(child: ResultPromise): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let seen = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes('\n')) resolve((JSON.parse(seen.split('\n')[0] as string) as { url: string }).url);
    });
    void child.then((r) => reject(new Error(`serve exited early (${r.exitCode}): ${String(r.stderr)}`)));
  });
}

/** Starts the binary without waiting (for kill and concurrency tests). */
export function spawnCli(args: string[], home: string): ResultPromise {
  return execa('node', [BIN, ...args], { reject: false, env: { NO_COLOR: '1', MODELCTL_HOME: home }, stdin: 'ignore' });
}

/** Removes what varies between runs (versions, durations, digests, temp paths) before comparing output. */
export function normalize(text: string, home?: string): string {
  let out = text.replace(/\x1b\[[0-9;]*m/g, '');
  if (home) out = out.split(home).join('<home>');
  return out
    .replace(/\b[0-9a-f]{64}\b/g, '<sha256>')
    .replace(/\d+(\.\d+)? ?(ms|s)\b/g, '<duration>')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>');
}

/** Flips one byte of a (read-only) registry file in place: the damage validate must find. */
export function flipByte(path: string, offset: number): void {
  chmodSync(path, 0o644);
  const fd = openSync(path, 'r+');
  const one = Buffer.alloc(1);
  readSync(fd, one, 0, 1, offset);
  one[0] = (one[0] as number) ^ 0xff;
  writeSync(fd, one, 0, 1, offset);
  closeSync(fd);
}

/** Edits a (read-only) manifest by hand, as a user with a text editor would. */
export function editFile(path: string, from: string, to: string): void {
  chmodSync(path, 0o644);
  const text = readFileSync(path, 'utf8');
  if (!text.includes(from)) throw new Error(`${path} does not contain ${from}`);
  writeFileSync(path, text.replace(from, to));
}

/** The ModelctlError a promise rejects with (the test fails when it resolves or rejects with anything else). */
export async function rejection(p: Promise<unknown>): Promise<ModelctlError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ModelctlError);
  return err as ModelctlError;
}

/** rejection, with its code (and message) checked. */
export async function rejects(p: Promise<unknown>, code: string, message?: RegExp): Promise<ModelctlError> {
  const err = await rejection(p);
  expect(err.code).toBe(code);
  if (message) expect(err.message).toMatch(message);
  return err;
}

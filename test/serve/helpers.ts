import { join } from 'node:path';
import { afterEach } from 'vitest';
import { Registry } from '../../src/registry/index.js';
import { startServer, type RunningServer, type ServeOptions } from '../../src/serve/index.js';
import { FIXTURES, tempDir } from '../helpers.js';

export const IRIS = join(FIXTURES, 'iris-logreg', 'model.onnx');
export const HANDBUILT = join(FIXTURES, 'onnx-handbuilt', 'model.onnx');

const running: RunningServer[] = [];
afterEach(async () => {
  while (running.length) await (running.pop() as RunningServer).close(1000);
});

/** A registry in a temporary home holding iris (iris-logreg) and org/hand (onnx-handbuilt). */
export async function fixtureRegistry(): Promise<Registry> {
  const registry = new Registry({ home: tempDir('modelctl-serve-') });
  await registry.register({ path: IRIS, name: 'iris' });
  await registry.register({ path: HANDBUILT, name: 'org/hand' });
  return registry;
}

/** A real server on a free loopback port, closed after the test. */
export async function serve(options: Partial<ServeOptions> = {}): Promise<RunningServer & { registry: Registry }> {
  const registry = options.registry ?? (await fixtureRegistry());
  const server = await startServer({ port: 0, ...options, registry });
  running.push(server);
  return { ...server, registry, close: server.close };
}

export async function getJson(url: string, init: RequestInit = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const r = await fetch(url, init);
  const text = await r.text();
  return { status: r.status, body: text === '' ? undefined : JSON.parse(text), headers: r.headers };
}

export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  return getJson(url, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });
}

export const IRIS_ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [6.3, 3.3, 6.0, 2.5],
  [5.9, 3.0, 4.2, 1.5],
];

export function irisInfer(rows: number[][], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { inputs: [{ name: 'input', shape: [rows.length, 4], datatype: 'FP32', data: rows.flat() }], ...extra };
}

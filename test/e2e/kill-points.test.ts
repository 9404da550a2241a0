import { execa } from 'execa';
import { cpSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../../src/registry/index.js';
import { BIN, FIXTURES, ROOT, fileDir, tempDir } from '../helpers.js';
import { CONFIG, safetensors } from '../hub/fixtures.js';
import { HubServer, newCommitId } from '../hub/server.js';

/**
 * Every file system mutation of register, pull (a local folder and a loopback Hub), embed-metadata, set, rm and gc is a
 * point where the process can die. Each command is run against a copy of one registry with
 * MODELCTL_TEST_KILL_AT = 1, 2, ... (kill-hook.cjs SIGKILLs the process just before its Nth mutation) until it
 * completes. After each kill, validate must find no problem (garbage at worst), one `gc` with no grace must leave
 * `validate --strict` clean and nothing else behind, and every version committed before must still be there,
 * unchanged (except those the command itself removes, or edits: those hold the old manifest or the whole new one).
 */

const HOOK = join(ROOT, 'test', 'e2e', 'kill-hook.cjs');

let base: string;
let hub: HubServer;
let hubEnv: Record<string, string>;
/** name:version -> manifest digest, as committed in the base registry. */
let committed: Map<string, string>;

async function deadPid(): Promise<number> {
  return Number((await execa('node', ['-e', 'console.log(process.pid)'])).stdout);
}

/**
 * What is left in a registry home beside its versions, found without the registry's own code (validate counts
 * garbage with gc's sweeps, so a gap in them would hide from it): anything in tmp/, a lock, a model folder without
 * versions, a view, usage record or baseline of a version that does not exist, a blob no manifest names.
 */
async function leftovers(home: string): Promise<string[]> {
  const ls = (...p: string[]): string[] => (existsSync(join(home, ...p)) ? readdirSync(join(home, ...p)) : []);
  const { manifests } = await new Registry({ home }).store.manifests();
  const versions = new Set(manifests.map((m) => `${m.name.replace('/', '--')}/${m.version}`));
  const out = [...ls('tmp').map((n) => `tmp/${n}`), ...ls().filter((n) => n.startsWith('lock'))];
  for (const m of ls('models')) if (ls('models', m, 'versions').length === 0) out.push(`models/${m}`);
  const views = new Set(manifests.map((m) => m.digest.slice('sha256:'.length, 'sha256:'.length + 32)));
  out.push(
    ...ls('views')
      .filter((v) => !views.has(v))
      .map((v) => `views/${v}`),
  );
  for (const dir of ['usage', 'bench'])
    for (const m of ls(dir)) for (const v of ls(dir, m)) if (!versions.has(`${m}/${v}`)) out.push(`${dir}/${m}/${v}`);
  const blobs = new Set(manifests.flatMap((m) => m.files.map((f) => f.sha256)));
  for (const shard of ls('blobs', 'sha256'))
    out.push(
      ...ls('blobs', 'sha256', shard)
        .filter((b) => !blobs.has(b))
        .map((b) => `blobs/${b}`),
    );
  return out;
}

async function snapshot(home: string): Promise<Map<string, string>> {
  const { manifests } = await new Registry({ home }).store.manifests();
  return new Map(manifests.map((m) => [`${m.name}:${m.version}`, m.digest]));
}

/**
 * keep:1.0.0 (production), ext:1.0.0 (prod) and ext:1.0.1, old:1.0.0, plus one of each leftover a killed process
 * leaves, for gc to sweep: a temporary file, a pull's staging folder, a view being built, an upload, a view of a
 * removed version, a usage record of a removed version, a model folder without versions, an orphan blob.
 */
async function makeBase(): Promise<string> {
  const home = fileDir('modelctl-kill-base-');
  const r = new Registry({ home });
  await r.register({ path: join(FIXTURES, 'iris-logreg'), name: 'keep', aliases: ['production'] });
  await r.register({ path: join(FIXTURES, 'onnx-external'), name: 'ext', aliases: ['prod'] });
  await r.register({ path: join(FIXTURES, 'onnx-handbuilt'), name: 'ext' });
  const old = await r.register({ path: join(FIXTURES, 'safetensors'), name: 'old' });
  await r.materialize(await r.resolve('ext:1.0.0'));
  const dead = await deadPid();
  const tmp = join(home, 'tmp');
  mkdirSync(tmp, { recursive: true });
  writeFileSync(join(tmp, `blob.${dead}.a1b2c3d4e5f6.tmp`), 'half a blob');
  const stage = join(tmp, `pull-stage.${dead}.a1b2c3d4e5f7.tmp`);
  mkdirSync(stage);
  linkSync(r.store.layout.blob(old.manifest.files[0]!.sha256), join(stage, 'model.safetensors'));
  mkdirSync(join(tmp, `view.${dead}.a1b2c3d4e5f8.tmp`, 'onnx'), { recursive: true });
  mkdirSync(join(tmp, `upload.${dead}.a1b2c3d4e5f9.tmp`));
  writeFileSync(join(tmp, `upload.${dead}.a1b2c3d4e5f9.tmp`, 'model.onnx'), 'part of an upload');
  mkdirSync(join(home, 'views', 'f'.repeat(32)), { recursive: true });
  mkdirSync(join(home, 'usage', 'keep'), { recursive: true });
  writeFileSync(join(home, 'usage', 'keep', '0.9.0'), '');
  mkdirSync(join(home, 'models', 'Gone', 'versions'), { recursive: true });
  const orphan = r.store.layout.blob('e'.repeat(64));
  mkdirSync(join(orphan, '..'), { recursive: true });
  writeFileSync(orphan, 'no manifest names me');
  return home;
}

interface Scenario {
  name: string;
  args: string[];
  /** Versions the command may remove. */
  removes?: string[];
  /** Versions the command edits (`set`): after a kill, each holds its old manifest or the whole new one. */
  edits?: string[];
  env?: () => Record<string, string>;
}

const SCENARIOS: Scenario[] = [
  { name: 'register', args: ['register', join(FIXTURES, 'onnx-handbuilt'), '--name', 'new', '--alias', 'staging'] },
  { name: 'pull (local folder)', args: ['pull', join(FIXTURES, 'torch-statedict'), '--name', 'pulled'] },
  { name: 'pull (loopback Hub)', args: ['pull', 'hf:acme/tiny-bert'], env: () => hubEnv },
  { name: 'embed-metadata', args: ['embed-metadata', 'keep', '--task', 'tabular-classification'] },
  { name: 'set (tags and metrics)', args: ['set', 'ext:1.0.0', '--tag', 'team=ml', '--metric', 'accuracy=0.9'], edits: ['ext:1.0.0'] },
  { name: 'rm (one of two versions, with aliases)', args: ['rm', 'ext:1.0.0', '--yes'], removes: ['ext:1.0.0'] },
  { name: 'rm (the only version)', args: ['rm', 'old', '--yes'], removes: ['old:1.0.0'] },
  // Evicts ext:1.0.1 (latest, least recently made) and old:1.0.0; `latest` of ext moves, so aliases are rewritten.
  { name: 'gc', args: ['gc', '--grace', '0s', '--max-models', '2'], removes: ['ext:1.0.1', 'old:1.0.0'] },
];

beforeAll(async () => {
  // Two files (a small one, and LFS weights that go through the CDN): every kind of Hub download, few kill points.
  const files = [
    { path: 'config.json', content: CONFIG },
    { path: 'model.safetensors', content: safetensors(64 << 10), lfs: true },
  ];
  const commit = newCommitId();
  hub = await new HubServer([{ id: 'acme/tiny-bert', refs: { main: commit }, commits: { [commit]: files } }]).start();
  hubEnv = { HF_ENDPOINT: hub.url, HF_HOME: fileDir('modelctl-hf-home-'), HF_TOKEN: '' };
  base = await makeBase();
  committed = await snapshot(base);
}, 60_000);
afterAll(async () => {
  await hub?.close();
});

describe('SIGKILL at every file system mutation', () => {
  for (const s of SCENARIOS) {
    it(`${s.name}: one gc --grace 0 leaves validate --strict clean, and nothing committed is lost`, { timeout: 240_000 }, async () => {
      let points = 0;
      for (let n = 1; ; n++) {
        const home = tempDir('modelctl-kill-');
        cpSync(base, home, { recursive: true, preserveTimestamps: true });
        const run = await execa('node', ['-r', HOOK, BIN, ...s.args, '--json'], {
          reject: false,
          env: { NO_COLOR: '1', MODELCTL_HOME: home, MODELCTL_TEST_KILL_AT: String(n), ...s.env?.() },
          stdin: 'ignore',
        });
        const killed = run.signal === 'SIGKILL';
        expect(killed || run.exitCode === 0, `kill point ${n}: exit ${run.exitCode}: ${run.stderr}`).toBe(true);

        const registry = new Registry({ home });
        // A kill leaves garbage at worst, never damage: before any gc, validate finds no problem.
        expect((await registry.validate()).problems, `right after kill point ${n} of ${s.name}`).toEqual([]);
        await registry.gc({ graceMs: 0, lock: { timeoutMs: 5_000 } });
        const report = await registry.validate({ strict: true });
        expect(report, `after kill point ${n} of ${s.name}`).toMatchObject({ ok: true, problems: [] });
        expect(await leftovers(home), `after kill point ${n} of ${s.name}`).toEqual([]);
        const now = await snapshot(home);
        for (const [ref, digest] of committed) {
          if (s.removes?.includes(ref) && !now.has(ref)) continue;
          if (s.edits?.includes(ref) && now.get(ref) !== digest) {
            const edited = await registry.resolve(ref);
            expect([edited.tags.team, edited.metrics.accuracy, edited.history?.[0]?.digest], ref).toEqual(['ml', 0.9, digest]);
            continue;
          }
          expect(now.get(ref), `${ref} after kill point ${n} of ${s.name}`).toBe(digest);
        }
        expect((await registry.resolve('keep@production')).version).toBe('1.0.0');
        rmSync(home, { recursive: true, force: true });
        if (!killed) break;
        points = n;
      }
      // The command ran to completion once, after being killed before each of its mutations.
      expect(points).toBeGreaterThan(2);
    });
  }
});

it('the kill hook sees the mutations of the built binary: a register logs its blob, lock, manifest and release in order', async () => {
  const home = tempDir('modelctl-kill-');
  const log = join(tempDir(), 'log');
  const run = await execa('node', ['-r', HOOK, BIN, 'register', join(FIXTURES, 'onnx-handbuilt'), '--name', 'logged'], {
    reject: false,
    env: { NO_COLOR: '1', MODELCTL_HOME: home, MODELCTL_TEST_KILL_LOG: log },
    stdin: 'ignore',
  });
  expect(run.exitCode, run.stderr).toBe(0);
  const lines = readFileSync(log, 'utf8').trim().split('\n');
  expect(lines.map((l) => Number(l.split(' ')[0]))).toEqual(lines.map((_, i) => i + 1));
  const at = (re: RegExp): number => lines.findIndex((l) => re.test(l));
  const order = [
    at(/^\d+ open .*\/tmp\/blob\.\d+\.[0-9a-f]+\.tmp$/), // the copy into tmp/
    at(/^\d+ symlink m1:\d+:[0-9a-f]+:[0-9a-f]+:register logged$/), // the lock
    at(/^\d+ rename .*\/tmp\/blob\./), // the blob placed
    at(/^\d+ link .*\/tmp\/\.1\.0\.0\.json\./), // the manifest committed
    at(/^\d+ unlink .*\/lock$/), // the lock released
  ];
  expect(
    order.every((i) => i >= 0),
    lines.join('\n'),
  ).toBe(true);
  expect([...order].sort((a, b) => a - b)).toEqual(order);
  expect(readdirSync(join(home, 'models', 'logged', 'versions'))).toEqual(['1.0.0.json']);
});

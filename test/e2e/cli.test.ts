import { chmodSync, readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { BIN, FIXTURES, cli, editFile, flipByte, normalize, tempDir, writeSafetensors } from '../helpers.js';

/** Expected errors are one line (plus an optional hint line), never a stack. */
function expectOneLineError(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split('\n');
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(pattern);
  expect(lines.length).toBeLessThanOrEqual(2);
  if (lines[1]) expect(lines[1]).toMatch(/^hint: /);
  expect(stderr).not.toMatch(/\n\s+at /);
}

describe('modelctl (spawned binary)', () => {
  it('registers, lists, shows, tags, removes and validates', async () => {
    const home = tempDir();
    const onnx = join(FIXTURES, 'iris-logreg', 'model.onnx');
    const reg = await cli(['register', onnx, '--name', 'iris', '--tag', 'team=ml', '--metric', 'accuracy=0.97', '--alias', 'production'], {
      home,
    });
    expect(reg.exitCode, reg.stderr).toBe(0);
    expect(normalize(reg.stdout)).toMatch(
      /^Registered iris:1\.0\.0 \(onnx, tabular-classification, 1 file, [\d.]+ (B|KiB), \d+ parameters; 1 new blob\)\naliases: latest, production\n?$/,
    );
    expect(reg.stderr).toBe('');

    // The same content again is the same version (issue 18): "up to date", nothing new.
    const same = await cli(['register', onnx, '--name', 'iris'], { home });
    expect(same.exitCode, same.stderr).toBe(0);
    expect(normalize(same.stdout)).toMatch(
      /^Up to date iris:1\.0\.0 holds the same content \(1 file, [\d.]+ (B|KiB)\); no new version\n?$/,
    );
    const sameJson = JSON.parse((await cli(['register', onnx, '--name', 'iris', '--json'], { home })).stdout);
    expect([sameJson.upToDate, sameJson.manifest.version]).toEqual([true, '1.0.0']);

    const again = await cli(['register', onnx, '--name', 'iris', '--description', 'the same bytes, described', '--json'], { home });
    expect(again.exitCode).toBe(0);
    const json = JSON.parse(again.stdout);
    expect(json.manifest.version).toBe('1.0.1');
    expect([json.newBlobs, json.upToDate]).toEqual([0, false]);

    const list = await cli(['list'], { home });
    expect(list.exitCode).toBe(0);
    const rows = normalize(list.stdout)
      .trim()
      .split('\n')
      .map((l) => l.split(/\s{2,}/));
    expect(rows[0]).toEqual(['NAME', 'VERSION', 'ALIASES', 'FORMAT', 'TASK', 'SIZE', 'UNIQUE', 'LAST USED']);
    expect(rows.slice(1, 3).map((r) => r.slice(0, 5))).toEqual([
      ['iris', '1.0.0', 'production', 'onnx', 'tabular-classification'],
      ['iris', '1.0.1', 'latest', 'onnx', 'tabular-classification'],
    ]);
    // Both versions hold the same blob: neither holds bytes of its own, and the footer says what is stored.
    expect(rows.slice(1, 3).map((r) => r[6])).toEqual(['0 B', '0 B']);
    expect(rows[3]?.join('  ')).toMatch(
      /^2 version\(s\): ([\d.]+ (B|KiB)) of files, ([\d.]+ (B|KiB)) stored; [\d.]+ (B|KiB) saved by storing identical content once$/,
    );

    const info = await cli(['info', 'iris@production', '--json'], { home });
    const parsed = JSON.parse(info.stdout);
    expect(parsed.manifest).toMatchObject({
      name: 'iris',
      version: '1.0.0',
      format: 'onnx',
      tags: { team: 'ml' },
      metrics: { accuracy: 0.97 },
    });
    expect(parsed.manifest.metadata.opsetImports.length).toBeGreaterThan(0);
    expect(readFileSync(parsed.blobPaths['model.onnx']).equals(readFileSync(onnx))).toBe(true);

    const human = await cli(['info', 'iris'], { home });
    expect(human.stdout).toMatch(/^name: +iris$/m);
    expect(human.stdout).toMatch(/^version: +1\.0\.1$/m);

    expect((await cli(['tag', 'iris:1.0.1', 'production'], { home })).stdout.trim()).toBe('iris@production -> 1.0.1 (was 1.0.0)');
    const rm = await cli(['rm', 'iris:1.0.0', '--yes'], { home });
    expect(rm.exitCode).toBe(0);
    expect(rm.stdout).toContain('Removed iris:1.0.0');
    expect(rm.stdout).toContain('freed 0 B (0 blobs; blobs other versions use are kept)');

    const validate = await cli(['validate', '--json'], { home });
    expect(validate.exitCode).toBe(0);
    expect(JSON.parse(validate.stdout)).toMatchObject({ ok: true, versions: 1, blobs: 1, problems: [] });
  });

  it('refuses rm without --yes when it cannot ask', async () => {
    const home = tempDir();
    const f = join(tempDir(), 'w.safetensors');
    writeSafetensors(f, 256);
    await cli(['register', f, '--name', 'm'], { home });
    const r = await cli(['rm', 'm:1.0.0'], { home });
    expect(r.exitCode).toBe(2);
    expectOneLineError(r.stderr, /refusing to remove without confirmation/);
    expect((await cli(['list', '--json'], { home })).stdout).toContain('"version": "1.0.0"');
  });

  it.each([
    ['a missing path', (d: string) => ['register', join(d, 'nope.onnx'), '--name', 'm'], 3, /no such file or folder/],
    [
      'a name with ../',
      (d: string) => ['register', join(FIXTURES, 'iris-logreg', 'model.onnx'), '--name', '../evil', '--home', d],
      2,
      /invalid model name/,
    ],
    ['an absolute name', () => ['register', join(FIXTURES, 'iris-logreg', 'model.onnx'), '--name', '/etc/passwd'], 2, /invalid model name/],
    ['an empty file', () => ['register', join(FIXTURES, 'bad', 'empty.onnx'), '--name', 'm'], 2, /empty/],
    ['random bytes named .onnx', () => ['register', join(FIXTURES, 'bad', 'random.onnx'), '--name', 'm'], 2, /not a valid ONNX model/],
    ['a truncated ONNX file', () => ['register', join(FIXTURES, 'bad', 'truncated.onnx'), '--name', 'm'], 2, /not a valid ONNX model/],
    ['prose', () => ['register', join(FIXTURES, 'bad', 'not-a-model.txt'), '--name', 'm'], 2, /format/],
    ['an unknown model', () => ['info', 'nope'], 3, /no model named nope/],
    ['a bad size', () => ['gc', '--max-size', 'lots'], 2, /not a size/],
    [
      'a bad metric',
      () => ['register', join(FIXTURES, 'iris-logreg', 'model.onnx'), '--name', 'm', '--metric', 'acc=high'],
      2,
      /--metric acc takes a number/,
    ],
    ['an unknown setup target', () => ['setup', 'java'], 2, /unknown setup target "java"/],
    [
      'a folder that holds the registry home',
      (d: string) => ['register', d, '--name', 'm', '--home', join(d, 'reg')],
      2,
      /holds the registry home/,
    ],
    ['a home that is a file', () => ['list', '--home', join(FIXTURES, 'bad', 'not-a-model.txt')], 2, /is not a folder/],
  ])('%s: a one-line error and its exit code, nothing lost', async (_what, args, code, pattern) => {
    const home = tempDir();
    const keep = join(tempDir(), 'keep.safetensors');
    writeSafetensors(keep, 512);
    expect((await cli(['register', keep, '--name', 'keep'], { home })).exitCode).toBe(0);
    const r = await cli(args(tempDir()), { home });
    expect(r.exitCode, r.stderr).toBe(code);
    expectOneLineError(r.stderr, pattern);
    expect(r.stdout).toBe('');
    const v = await cli(['validate', '--strict'], { home });
    expect(v.exitCode, v.stdout).toBe(0);
    expect(v.stdout).toContain('1 version(s)');
  });

  it('reports an unreadable file as permission denied', async () => {
    const home = tempDir();
    const dir = tempDir();
    const f = join(dir, 'w.safetensors');
    writeSafetensors(f, 256);
    chmodSync(f, 0o000);
    let r: { exitCode?: number; stderr: string };
    if (process.getuid?.() === 0) {
      // root reads anything: run as an unprivileged user, with a home it may write.
      chmodSync(home, 0o777);
      chmodSync(dir, 0o755);
      r = await execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'node', BIN, 'register', f, '--name', 'm'], {
        reject: false,
        env: { NO_COLOR: '1', MODELCTL_HOME: home },
      });
    } else {
      r = await cli(['register', f, '--name', 'm'], { home });
    }
    expect(r.exitCode).toBe(2);
    expectOneLineError(r.stderr, /permission denied/);
  });

  it('validate exits 1 and names each problem: a flipped byte and a hand-edited manifest', async () => {
    const home = tempDir();
    const dir = tempDir();
    for (const name of ['a', 'b']) {
      writeSafetensors(join(dir, `${name}.safetensors`), 4096);
      expect((await cli(['register', join(dir, `${name}.safetensors`), '--name', name], { home })).exitCode).toBe(0);
    }
    const a = JSON.parse((await cli(['info', 'a', '--json'], { home })).stdout);
    const blob = a.blobPaths['a.safetensors'];
    flipByte(blob, 200);
    editFile(join(home, 'models', 'b', 'versions', '1.0.0.json'), '"tags": {}', '"tags": {"x": "y"}');
    const v = await cli(['validate'], { home });
    expect(v.exitCode).toBe(1);
    const lines = normalize(v.stdout).trim().split('\n');
    expect(lines[0]).toMatch(/^problem a:1\.0\.0: a\.safetensors: blob [0-9a-f]{12} is corrupt/);
    expect(lines[1]).toMatch(/^problem b:1\.0\.0: manifest b:1\.0\.0 was modified after it was written/);
    expect(lines.at(-1)).toMatch(/^failed 1 version\(s\), 1 blob\(s\), .* checked: 2 problem\(s\)$/);
    const info = await cli(['info', 'b'], { home });
    expect(info.exitCode).toBe(4);
    expectOneLineError(info.stderr, /manifest b:1\.0\.0 was modified/);
  });

  it('prints help with examples for every command, and --version', async () => {
    const help = await cli(['--help']);
    expect(help.exitCode).toBe(0);
    for (const name of [
      'pull',
      'checkout',
      'register',
      'export',
      'embed-metadata',
      'predict',
      'bench',
      'validate',
      'gc',
      'list',
      'info',
      'rm',
      'tag',
      'setup',
      'serve',
      'push',
    ]) {
      expect(help.stdout).toContain(`  ${name}`);
    }
    const gc = await cli(['gc', '--help']);
    expect(gc.stdout).toContain('$ modelctl gc --max-size 20GB --older-than 30d --dry-run');
    const version = await cli(['--version']);
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(join(BIN, '..', '..', 'package.json'), 'utf8')).version);
    const bare = await cli([]);
    expect(bare.exitCode).toBe(2);
    expect(bare.stderr).toContain('Usage: modelctl');
    const usage = await cli(['list', '--bogus']);
    expect(usage.exitCode).toBe(2);
    expect(usage.stderr).toContain("unknown option '--bogus'");
  });

  it("takes the global options before or after the command name, and lists each once in a command's help", async () => {
    const envHome = tempDir();
    const before = tempDir();
    const after = tempDir();
    const onnx = join(FIXTURES, 'iris-logreg', 'model.onnx');
    // After the command name, --version is register's own option; --home beats MODELCTL_HOME on either side.
    expect((await cli(['register', onnx, '--name', 'iris', '--home', after, '--version', '2.0.0'], { home: envHome })).exitCode).toBe(0);
    expect((await cli(['--home', before, 'register', onnx, '--name', 'iris'], { home: envHome })).exitCode).toBe(0);
    const versions = async (args: string[]): Promise<string[]> =>
      JSON.parse((await cli([...args, '--json'], { home: envHome })).stdout).models.map((m: { version: string }) => m.version);
    expect(await versions(['list', '--home', after])).toEqual(['2.0.0']);
    expect(await versions(['--home', before, 'ls'])).toEqual(['1.0.0']);
    expect(await versions(['list'])).toEqual([]);
    const verbose = await cli(['info', 'nope', '--verbose'], { home: after });
    expect(verbose.exitCode).toBe(3);
    expect(verbose.stderr).toMatch(/\n\s+at /);
    for (const name of ['register', 'list', 'predict', 'serve']) {
      const help = (await cli([name, '--help'])).stdout;
      for (const flag of ['--home <dir>', '-v, --verbose', '--no-color']) expect(help.split(flag).length - 1, `${name}: ${flag}`).toBe(1);
    }
  });

  it('keeps stdout for the result: JSON errors with --json, nothing but the document', async () => {
    const home = tempDir();
    mkdirSync(join(home, 'x'), { recursive: true });
    const r = await cli(['info', 'nope', '--json'], { home });
    expect(r.exitCode).toBe(3);
    expect(JSON.parse(r.stdout)).toEqual({
      error: { code: 'NOT_FOUND', exitCode: 3, message: 'no model named nope', hint: 'run `modelctl list` to see the registered models' },
    });
    const empty = await cli(['list', '--json'], { home });
    expect(JSON.parse(empty.stdout)).toEqual({ models: [], unreadable: [], total: { versions: 0, size: 0, storedSize: 0 } });
  });
});

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES, cli, normalize, tempDir } from '../helpers.js';

const IRIS = join(FIXTURES, 'iris-logreg', 'model.onnx');

describe('the registry as teams use it (issue 18, spawned binary)', () => {
  it('set edits tags, metrics and description; tag with key=value points to set', async () => {
    const home = tempDir();
    expect((await cli(['register', IRIS, '--name', 'iris', '--tag', 'stage=dev'], { home })).exitCode).toBe(0);
    const wrong = await cli(['tag', 'iris:1.0.0', 'team=ml'], { home });
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr).toMatch(/^error: "team=ml" is a tag, not an alias/);
    expect(wrong.stderr).toMatch(/hint: set a tag with `modelctl set iris:1\.0\.0 --tag team=ml`/);
    const set = await cli(
      ['set', 'iris:1.0.0', '--tag', 'team=ml', '--untag', 'stage', '--metric', 'accuracy=0.93', '--description', 'four features'],
      {
        home,
      },
    );
    expect(set.exitCode, set.stderr).toBe(0);
    expect(normalize(set.stdout).split('\n').slice(0, 4)).toEqual([
      'Updated iris:1.0.0',
      'tags: team=ml',
      'metrics: accuracy=0.93',
      'description: four features',
    ]);
    const json = JSON.parse((await cli(['set', 'iris:1.0.0', '--tag', 'team=ml', '--json'], { home })).stdout);
    expect([json.changed, json.manifest.history.length]).toEqual([false, 1]);
    const info = JSON.parse((await cli(['info', 'iris:1.0.0', '--json'], { home })).stdout);
    expect(info.manifest).toMatchObject({ tags: { team: 'ml' }, metrics: { accuracy: 0.93 }, description: 'four features' });
    const nothing = await cli(['set', 'iris:1.0.0'], { home });
    expect(nothing.exitCode).toBe(2);
    expect(nothing.stderr).toMatch(/nothing to change/);
    const bad = await cli(['set', 'iris:1.0.0', '--metric', 'accuracy=high'], { home });
    expect(bad.exitCode).toBe(2);
    expect((await cli(['validate', '--strict'], { home })).exitCode).toBe(0);
  });

  it("list --metric 'accuracy>=0.9' with --tag, and metrics and tags in list --json", async () => {
    const home = tempDir();
    const reg = (name: string, ...extra: string[]) => cli(['register', IRIS, '--name', name, ...extra], { home });
    expect((await reg('good', '--tag', 'team=nlp', '--metric', 'accuracy=0.95')).exitCode).toBe(0);
    expect((await reg('weak', '--tag', 'team=nlp', '--metric', 'accuracy=0.6')).exitCode).toBe(0);
    expect((await reg('other', '--tag', 'team=cv', '--metric', 'accuracy=0.97')).exitCode).toBe(0);
    const r = await cli(['list', '--tag', 'team=nlp', '--metric', 'accuracy>=0.9', '--json'], { home });
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.models.map((m: { name: string }) => m.name)).toEqual(['good']);
    expect(doc.models[0]).toMatchObject({ tags: { team: 'nlp' }, metrics: { accuracy: 0.95 } });
    const bad = await cli(['list', '--metric', 'accuracy=>0.9'], { home });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/^error: metric condition "accuracy=>0.9" compares with ">0.9", not a number/);
  });

  it('validate --strict with only garbage says what failed; gc says "never used" as list does', async () => {
    const home = tempDir();
    expect((await cli(['register', IRIS, '--name', 'iris'], { home })).exitCode).toBe(0);
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const orphan = join(home, 'blobs', 'sha256', 'ab');
    mkdirSync(orphan, { recursive: true });
    writeFileSync(join(orphan, 'ab'.repeat(32)), 'x');
    const v = await cli(['validate', '--strict'], { home });
    expect(v.exitCode).toBe(1);
    expect(normalize(v.stdout).trim().split('\n').at(-1)).toMatch(
      /^failed 1 version\(s\), 1 blob\(s\), [\d.]+ (B|KiB) checked: no damage, but --strict fails on garbage \(1 unreferenced blob\(s\)\): run `modelctl gc`$/,
    );
    expect(normalize((await cli(['list'], { home })).stdout)).toMatch(/never\n/);
    const gc = await cli(['gc', '--older-than', '0s', '--dry-run'], { home });
    expect(gc.exitCode, gc.stderr).toBe(0);
    expect(normalize(gc.stdout)).toMatch(/^would evict iris:1\.0\.0 \([\d.]+ (B|KiB), older-than, never used, created <time>\)/);
  });
});

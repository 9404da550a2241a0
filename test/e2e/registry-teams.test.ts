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
});

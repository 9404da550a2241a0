import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { BIN, cli, listeningUrl, tempDir } from '../helpers.js';
import { bertHub } from '../hub/fixtures.js';
import { getJson, postJson } from './helpers.js';

/** `modelctl serve` (the spawned binary) runs pull jobs with the environment it was started with (HF_ENDPOINT...). */

const hub = bertHub(64 << 10);

describe('modelctl serve: pull jobs', () => {
  it('POST /v1/pull on the spawned server pulls from the HF_ENDPOINT it was started with; SIGTERM then exits 0', async () => {
    const home = tempDir();
    const child = execa('node', [BIN, 'serve', '--port', '0', '--json', '--max-jobs', '1'], {
      reject: false,
      env: { NO_COLOR: '1', MODELCTL_HOME: home, HF_ENDPOINT: hub.server.url, HF_HOME: tempDir('modelctl-hf-home-'), HF_TOKEN: '' },
      stdin: 'ignore',
    });
    const url = await listeningUrl(child);
    const started = await postJson(`${url}/v1/pull`, { source: 'hf:acme/tiny-bert', name: 'team/bert' });
    expect(started.status).toBe(202);
    let job = started.body;
    while (job.status === 'queued' || job.status === 'running') {
      await new Promise((resolve) => setTimeout(resolve, 20));
      job = (await getJson(`${url}${started.body.links.self}`)).body;
    }
    expect(job.error).toBeUndefined();
    expect(job.result).toEqual({ name: 'team/bert', version: hub.bert.commit.slice(0, 7), upToDate: false });
    expect(hub.server.requests.some((q) => q.server === 'hub' && q.path.includes('acme/tiny-bert'))).toBe(true);
    child.kill('SIGTERM');
    const done = await child;
    expect(done.exitCode, done.stderr).toBe(0);
    const list = JSON.parse((await cli(['list', '--json'], { home })).stdout);
    expect(list.models.map((m: { name: string; version: string }) => `${m.name}:${m.version}`)).toEqual([
      `team/bert:${hub.bert.commit.slice(0, 7)}`,
    ]);
  });
});

import { readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { pull } from '../../src/pull/pull.js';
import { tempDir } from '../helpers.js';
import { parityPython } from '../parity/reference.js';
import { BERT_DEFAULT, bertHub, fileContent, registry } from './fixtures.js';
import { sha256 } from './server.js';

/**
 * `pull --local-dir` leaves the `.cache/huggingface/download/*.metadata` bookkeeping `hf download --local-dir` leaves:
 * the real huggingface_hub (2.4, .venv-parity), online against the loopback Hub, then finds every file up to date
 * and downloads none of them again (HEAD requests only).
 */

const READ_LOCAL_DIR = join(resolve(dirname(fileURLToPath(import.meta.url))), 'py', 'read_local_dir.py');

const hub = bertHub();

const fileGets = () => hub.server.requests.filter((q) => q.method === 'GET' && (q.server === 'cdn' || q.path.includes('/resolve/')));

describe('pull --local-dir and huggingface_hub', () => {
  it('writes the download metadata hf leaves, so huggingface_hub downloads nothing again', async () => {
    const python = parityPython();
    if (!python) return;
    const dir = join(tempDir(), 'tiny');
    await pull(hub.opts(registry(), 'hf:acme/tiny-bert', { localDir: dir }));
    const meta = readFileSync(join(dir, '.cache', 'huggingface', 'download', 'config.json.metadata'), 'utf8').split('\n');
    expect(meta[0]).toBe(hub.bert.commit);
    expect(Number(meta[2])).toBeGreaterThanOrEqual(statSync(join(dir, 'config.json')).mtimeMs / 1000 - 1);
    expect(readFileSync(join(dir, '.cache', 'huggingface', '.gitignore'), 'utf8')).toBe('*');
    expect(readFileSync(join(dir, '.cache', 'huggingface', 'download', 'model.safetensors.metadata'), 'utf8').split('\n')[1]).toBe(
      sha256(fileContent(hub.bert.files, 'model.safetensors')),
    );
    const before = fileGets().length;
    const read = await execa(python, [READ_LOCAL_DIR], {
      input: JSON.stringify({ local_dir: dir, repo_id: 'acme/tiny-bert', revision: 'main', files: BERT_DEFAULT }),
      reject: false,
      env: { HF_HOME: hub.hfHome, HF_ENDPOINT: hub.server.url, HF_HUB_OFFLINE: '0', HF_TOKEN: '' },
    });
    expect(read.exitCode, read.stderr).toBe(0);
    const got = JSON.parse(read.stdout) as { folder: string; single: Record<string, { in_folder: boolean; sha256: string }> };
    expect(resolve(got.folder)).toBe(resolve(dir));
    expect(got.single).toEqual(
      Object.fromEntries(BERT_DEFAULT.map((p) => [p, { in_folder: true, sha256: sha256(fileContent(hub.bert.files, p)) }])),
    );
    // huggingface_hub asked the Hub what is current (HEAD) and fetched no file's content.
    expect(fileGets().slice(before)).toEqual([]);
    expect(hub.server.requests.some((q) => q.method === 'HEAD')).toBe(true);
  }, 120_000);
});

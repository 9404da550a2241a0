import { randomBytes } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { beforeEach } from 'vitest';
import type { PullOptions } from '../../src/pull/pull.js';
import { Registry } from '../../src/registry/index.js';
import { tempDir } from '../helpers.js';
import { HubServer, gitBlobId, newCommitId, sha256, type FixtureFile, type FixtureRepo } from './server.js';

/** A real safetensors file in memory: one float32 tensor of `bytes` bytes of random values. */
export function safetensors(bytes: number): Buffer {
  const elements = Math.max(1, Math.floor(bytes / 4));
  let header = JSON.stringify({ weight: { dtype: 'F32', shape: [elements], data_offsets: [0, elements * 4] } });
  header += ' '.repeat((8 - (header.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([len, Buffer.from(header), randomBytes(elements * 4)]);
}

export const CONFIG = Buffer.from(
  JSON.stringify({ architectures: ['BertForSequenceClassification'], model_type: 'bert', id2label: { 0: 'NEG', 1: 'POS' } }),
);

/** A small transformers repo as the Hub holds it: configs, safetensors weights, and a duplicate PyTorch copy. */
export function bertRepo(id = 'acme/tiny-bert', weightBytes = 3 << 20): { repo: FixtureRepo; commit: string; files: FixtureFile[] } {
  const commit = newCommitId();
  const files: FixtureFile[] = [
    { path: '.gitattributes', content: Buffer.from('*.safetensors filter=lfs\n') },
    { path: 'README.md', content: Buffer.from('# tiny bert\n') },
    { path: 'config.json', content: CONFIG },
    { path: 'tokenizer.json', content: Buffer.from(JSON.stringify({ version: '1.0', model: { type: 'WordPiece', vocab: { a: 0 } } })) },
    { path: 'tokenizer_config.json', content: Buffer.from('{"do_lower_case": true}') },
    { path: 'vocab.txt', content: Buffer.from('[PAD]\n[UNK]\na\n') },
    { path: 'model.safetensors', content: safetensors(weightBytes), lfs: true },
    { path: 'pytorch_model.bin', content: randomBytes(4096), lfs: true },
  ];
  return { repo: { id, refs: { main: commit }, commits: { [commit]: files } }, commit, files };
}

/** The files `pull` takes from bertRepo by default. */
export const BERT_DEFAULT = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'vocab.txt'];

export function registry(): Registry {
  return new Registry({ home: tempDir('modelctl-pull-home-') });
}

/** A fixture file's content by its path (the file must be there). */
export function fileContent(files: FixtureFile[], path: string): Buffer {
  return (files.find((f) => f.path === path) as FixtureFile).content;
}

export interface BertHub {
  server: HubServer;
  bert: ReturnType<typeof bertRepo>;
  /** An empty HF home: never the user's cache or token. */
  hfHome: string;
  /** Pull options against this Hub, with the empty HF home and fast retries. */
  opts(reg: Registry, source: string, extra?: Partial<PullOptions>): PullOptions;
}

/**
 * A loopback Hub serving a fresh bertRepo() (weights of `weightBytes`) to each test of the file that calls this
 * (started before the test, closed after it). The fields change from test to test: read them inside the tests.
 */
export function bertHub(weightBytes?: number): BertHub {
  const hub = {
    opts: (reg: Registry, source: string, extra: Partial<PullOptions> = {}): PullOptions => ({
      source,
      registry: reg,
      env: { HF_ENDPOINT: hub.server.url, HF_HOME: hub.hfHome },
      backoff: () => 10,
      ...extra,
    }),
  } as BertHub;
  beforeEach(async () => {
    hub.bert = bertRepo(undefined, weightBytes);
    hub.server = await new HubServer([hub.bert.repo]).start();
    hub.hfHome = tempDir('modelctl-hf-home-');
    return () => hub.server.close();
  });
  return hub;
}

/**
 * An HF cache as huggingface_hub writes it: refs/REV, snapshots/COMMIT/PATH -> ../../blobs/ETAG, where ETAG is the
 * sha256 of LFS files and the git blob id of the others.
 */
export function writeHfCache(cacheDir: string, repoId: string, commit: string, files: FixtureFile[], ref = 'main'): string {
  const root = join(cacheDir, `models--${repoId.replace('/', '--')}`);
  mkdirSync(join(root, 'refs'), { recursive: true });
  writeFileSync(join(root, 'refs', ref), commit);
  for (const f of files) {
    const etag = f.lfs ? sha256(f.content) : gitBlobId(f.content);
    const blob = join(root, 'blobs', etag);
    mkdirSync(dirname(blob), { recursive: true });
    writeFileSync(blob, f.content);
    const link = join(root, 'snapshots', commit, f.path);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(relative(dirname(link), blob), link);
  }
  return root;
}

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Transform } from 'node:stream';
import zlib from 'node:zlib';
import { ModelctlError } from '../errors.js';
import { copyLocalFile, discardFetched, type FetchedFile } from '../hub/download/index.js';
import { tempName } from '../registry/fsutil.js';
import { walkTar } from '../util/tar-read.js';
import type { PackedLayer } from './modelpack.js';

/**
 * An OCI layer packed as tar, unpacked into files of the version: a ModelPack tar layer (its entries are the
 * files' paths in the model, as modctl writes them) or an ORAS folder (a tar+gzip whose entries all lie under the
 * folder its title names; they keep that folder, as `oras pull` writes them). The layer's blob was verified against
 * its digest already; a compressed one is decompressed into the registry's tmp/ first (its sha256 checked against
 * ORAS' io.deis.oras.content.digest when given), then each file's bytes are copied from the tar through the
 * hashing sink into tmp/, as every other pull's files are. Links, devices and paths leaving the version are refused
 * (src/util/tar-read.ts); on any failure every temporary file is removed.
 */

export interface UnpackOptions {
  tmpDir: string;
  /** What messages call the layer: `layer NAME of oci://...`. */
  display: string;
  signal?: AbortSignal;
}

function decompressor(packed: PackedLayer): Transform {
  if (packed.compression === 'gzip') return zlib.createGunzip();
  // Checked by readArtifact before anything was downloaded: only here where node:zlib has it.
  return (zlib as unknown as { createZstdDecompress: () => Transform }).createZstdDecompress();
}

/** The uncompressed tar of a compressed blob, in tmp/, with its sha256. */
async function decompress(blob: string, packed: PackedLayer, o: UnpackOptions): Promise<{ path: string; sha256: string }> {
  const path = join(o.tmpDir, `${tempName('oci-layer')}.tar`);
  const hash = createHash('sha256');
  try {
    await pipeline(
      createReadStream(blob),
      decompressor(packed),
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          hash.update(chunk);
          yield chunk;
        }
      },
      createWriteStream(path),
      o.signal ? { signal: o.signal } : {},
    );
  } catch (err) {
    await unlink(path).catch(() => {});
    if (o.signal?.aborted) throw err;
    // zlib's errors (Z_DATA_ERROR: not gzip, a bad block; Z_BUF_ERROR: cut short) are the layer's fault.
    if (!(err as { code?: string }).code?.startsWith('Z_')) throw err;
    throw new ModelctlError('INVALID_INPUT', `${o.display} is not valid ${packed.compression} data (${(err as Error).message})`, {
      hint: `its media type is ${packed.mediaType}; nothing was registered`,
    });
  }
  return { path, sha256: hash.digest('hex') };
}

/** The files of a packed layer whose verified blob lies at `blob`, each fresh in tmp/. */
export async function unpackLayer(blob: string, blobSha256: string, packed: PackedLayer, o: UnpackOptions): Promise<FetchedFile[]> {
  const tar = packed.compression === 'none' ? { path: blob, sha256: blobSha256 } : await decompress(blob, packed, o);
  const files: FetchedFile[] = [];
  try {
    if (packed.tarSha256 !== undefined && packed.tarSha256 !== tar.sha256) {
      throw new ModelctlError(
        'INTEGRITY',
        `${o.display} does not match its content digest (expected sha256:${packed.tarSha256}, got sha256:${tar.sha256})`,
        { hint: 'the uncompressed tar is not what io.deis.oras.content.digest names; nothing was registered' },
      );
    }
    const seen = new Set<string>();
    await walkTar(
      tar.path,
      async (entry) => {
        const { folder } = packed;
        if (folder !== undefined && !entry.path.startsWith(`${folder}/`)) {
          throw new ModelctlError('INVALID_INPUT', `${o.display} holds "${entry.path}", outside its folder ${folder}`, {
            hint: 'an ORAS folder layer holds only the folder its title names; nothing was registered',
          });
        }
        if (seen.has(entry.path)) throw new ModelctlError('INVALID_INPUT', `${o.display} holds ${entry.path} twice`);
        seen.add(entry.path);
        const file = await copyLocalFile(tar.path, {
          tmpDir: o.tmpDir,
          size: entry.length,
          range: entry,
          ...(o.signal ? { signal: o.signal } : {}),
        });
        files.push({ path: entry.path, origin: 'network', file });
      },
      { display: o.display, ...(o.signal ? { signal: o.signal } : {}) },
    );
    if (files.length === 0) throw new ModelctlError('INVALID_INPUT', `${o.display} holds no file`);
    return files;
  } catch (err) {
    await discardFetched(files);
    throw err;
  } finally {
    if (tar.path !== blob) await unlink(tar.path).catch(() => {});
  }
}

import { describe, expect, it } from 'vitest';
import { nextPatchVersion, compareSemver } from '../../src/registry/semver.js';
import { parseRef, checkName, encodeName, decodeName } from '../../src/registry/names.js';
import { parseDuration, parseSize, formatBytes } from '../../src/util/units.js';
import { canonicalJson, manifestProblems } from '../../src/registry/manifest.js';

describe('semver', () => {
  it.each([
    [[], '1.0.0'],
    [['1.0.0'], '1.0.1'],
    [['1.0.9', '1.0.10', '0.9.0'], '1.0.11'],
    [['2.0.0-rc.1', '1.9.0'], '2.0.0'],
    [['abc123', 'main'], '1.0.0'],
    [['v1.2.3'], '1.2.4'],
  ])('next patch after %j is %s', (versions, next) => {
    expect(nextPatchVersion(versions)).toBe(next);
  });

  it('orders prereleases before releases and numbers numerically', () => {
    expect(compareSemver('1.0.0-alpha', '1.0.0')).toBeLessThan(0);
    expect(compareSemver('1.0.0-alpha.2', '1.0.0-alpha.10')).toBeLessThan(0);
    expect(compareSemver('1.10.0', '1.9.0')).toBeGreaterThan(0);
    expect(compareSemver('abc', '1.0.0')).toBeUndefined();
  });
});

describe('references and names', () => {
  it.each([
    ['bert', { kind: 'registry', name: 'bert' }],
    ['org/bert:1.2.0', { kind: 'registry', name: 'org/bert', version: '1.2.0' }],
    ['org/bert@production', { kind: 'registry', name: 'org/bert', alias: 'production' }],
    ['./model.onnx', { kind: 'path', path: './model.onnx' }],
    ['../m', { kind: 'path', path: '../m' }],
    ['/abs/m.onnx', { kind: 'path', path: '/abs/m.onnx' }],
    ['~/m.onnx', { kind: 'path', path: '~/m.onnx' }],
    ['file:m.onnx', { kind: 'path', path: 'm.onnx' }],
    ['hf:org/bert@main', { kind: 'hub', repo: 'org/bert', revision: 'main' }],
  ])('%s', (text, ref) => {
    expect(parseRef(text)).toEqual(ref);
  });

  it.each(['..', '../x', 'a/../b', 'a--b', '-a', 'a-', 'a/b/c', 'a b', 'a\nb', 'x'.repeat(97), 'é'])('rejects the name %j', (name) => {
    expect(() => checkName(name)).toThrow(/invalid model name/);
  });

  it('encodes names reversibly into one folder', () => {
    expect(encodeName('org/name')).toBe('org--name');
    expect(decodeName(encodeName('org/name'))).toBe('org/name');
    expect(decodeName(encodeName('plain'))).toBe('plain');
  });
});

describe('units', () => {
  it.each([
    ['20GB', 20e9],
    ['512MiB', 512 * 1024 ** 2],
    ['1.5g', 1.5e9],
    ['1024', 1024],
    ['10 kb', 1e4],
  ])('size %s', (text, bytes) => expect(parseSize(text)).toBe(bytes));
  it.each([
    ['30d', 30 * 86_400_000],
    ['12h', 43_200_000],
    ['90m', 5_400_000],
    ['500ms', 500],
    ['1w', 604_800_000],
  ])('duration %s', (text, ms) => expect(parseDuration(text)).toBe(ms));
  it('rejects what is not a size or a duration', () => {
    expect(() => parseSize('lots')).toThrow(/not a size/);
    expect(() => parseDuration('30')).toThrow(/not a duration/);
  });
  it('formats bytes', () => {
    expect([formatBytes(0), formatBytes(1536), formatBytes(1024 ** 3 * 1.5)]).toEqual(['0 B', '1.50 KiB', '1.50 GiB']);
  });
});

describe('manifest schema', () => {
  it('canonical JSON does not depend on key order', () => {
    expect(canonicalJson({ b: 1, a: { d: 2, c: [3, { f: 1, e: 2 }] } })).toBe(canonicalJson({ a: { c: [3, { e: 2, f: 1 }], d: 2 }, b: 1 }));
  });
  it('lists every problem of a broken manifest', () => {
    expect(manifestProblems([])).toEqual(['is not a JSON object']);
    const problems = manifestProblems({ schema: 'x', name: '../x', files: [{ path: '../etc/passwd', sha256: 'zz', size: 1 }] });
    expect(problems).toContain('schema is not "modelctl.manifest/v1"');
    expect(problems).toContain('name "../x" is not valid');
    expect(problems).toContain('files[0].path "../etc/passwd" is not a safe relative path');
    expect(problems).toContain('files[0].sha256 is not a sha256 digest');
  });
});

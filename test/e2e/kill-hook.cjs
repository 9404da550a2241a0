'use strict';
/*
 * TEST HOOK, never shipped (it is not in dist/ or bin/): `node -r test/e2e/kill-hook.cjs bin/modelctl.cjs ...`
 * with MODELCTL_TEST_KILL_AT=N makes the process SIGKILL itself just before its Nth filesystem mutation (N >= 1);
 * with MODELCTL_TEST_KILL_LOG=FILE it appends one line per mutation ("N op path") there. Used by
 * kill-points.test.ts, which runs a command with N = 1, 2, ... until it completes, so that every state a kill can
 * leave between two mutations is produced once.
 *
 * Why a preload that wraps node:fs and not the alternatives:
 * - strace's syscall injection (-e inject=...:signal=KILL:when=N) counts per thread, and Node issues file system
 *   calls from the main thread and from libuv's pool at once, so "the Nth mutation" would not be one point of the
 *   process; each traced call also costs a ptrace stop.
 * - a counter inside the registry's fs layer would only see the registry's own calls: pull, the hub sink,
 *   embed-metadata and views write through node:fs directly, in modules other people own.
 * A preload sees every call of every module, and costs nothing when it is not loaded, which is always outside
 * these tests. The bundle calls node:fs through ES module bindings, which module.syncBuiltinESMExports() updates.
 *
 * Calls that are several system calls are taken apart so that a kill can land between them, as it could in the
 * kernel: a recursive rm or mkdir becomes one unlink/rmdir/mkdir per entry, writeFile becomes create + write. A
 * spawned process (coreutils cp for a kernel copy) is one point. Reads, stats and fsyncs change nothing a kill
 * could reveal, so they are not points.
 */
const fs = require('node:fs');
const path = require('node:path');
const childProcess = require('node:child_process');
const { isMainThread } = require('node:worker_threads');
const { syncBuiltinESMExports } = require('node:module');

const killAt = Number(process.env.MODELCTL_TEST_KILL_AT ?? 0);
const logFile = process.env.MODELCTL_TEST_KILL_LOG;

if (isMainThread && (killAt > 0 || logFile)) install();

function install() {
  const P = fs.promises;
  // Written with the bare system calls: Node's own helpers (appendFileSync) call back into the patched functions.
  const logFd = logFile ? fs.openSync(logFile, 'a') : -1;
  const writeLog = fs.writeSync;
  let count = 0;
  const step = (op, target) => {
    count++;
    if (count === killAt) process.kill(process.pid, 'SIGKILL');
    const shown = typeof target === 'string' || target instanceof URL ? String(target) : typeof target === 'number' ? `fd ${target}` : '';
    if (logFd >= 0) writeLog(logFd, `${count} ${op} ${shown}\n`);
  };
  const { O_CREAT, O_TRUNC, O_APPEND, O_WRONLY, O_RDWR } = fs.constants;
  const creates = (flags) =>
    typeof flags === 'number'
      ? (flags & (O_CREAT | O_TRUNC | O_APPEND)) !== 0 && (flags & (O_WRONLY | O_RDWR)) !== 0
      : /[wax]/.test(String(flags ?? 'r'));

  const orig = { fs: { ...fs }, P: { ...P }, cp: { ...childProcess } };
  const wrap = (obj, name, op = name, when = () => true, showArg = true) => {
    const f = obj[name];
    if (typeof f !== 'function') return;
    obj[name] = function (...args) {
      if (when(args)) step(op, showArg ? args[0] : undefined);
      return f.apply(this, args);
    };
  };

  // One point per call.
  // (appendFile is not among them: Node's appendFile calls writeFile, which is taken apart below.)
  for (const name of ['rename', 'link', 'symlink', 'unlink', 'rmdir', 'copyFile', 'truncate', 'utimes', 'lutimes', 'chmod']) {
    wrap(P, name);
    wrap(fs, name);
    wrap(fs, `${name}Sync`, name);
  }
  // Output on stdout and stderr is not the registry's state.
  const notStdio = (a) => !(typeof a[0] === 'number' && a[0] <= 2);
  for (const name of ['write', 'writev', 'ftruncate', 'futimes', 'fchmod']) {
    wrap(fs, name, name, notStdio);
    wrap(fs, `${name}Sync`, name, notStdio);
  }
  wrap(P, 'open', 'open', (a) => creates(a[1]));
  wrap(fs, 'open', 'open', (a) => creates(a[1]));
  wrap(fs, 'openSync', 'open', (a) => creates(a[1]));
  for (const name of ['execFile', 'spawn']) wrap(childProcess, name, `exec:${name}`);

  // A FileHandle's writes: its prototype is reached through the first handle opened.
  let handlePatched = false;
  const patchHandle = (fh) => {
    if (handlePatched) return fh;
    handlePatched = true;
    const proto = Object.getPrototypeOf(fh);
    for (const name of ['write', 'writev', 'writeFile', 'appendFile', 'truncate', 'utimes', 'chmod'])
      wrap(proto, name, `fh.${name}`, () => true, false);
    return fh;
  };
  const openP = P.open;
  P.open = async (...args) => patchHandle(await openP(...args));

  // Composite calls, taken apart.
  P.writeFile = async (file, data, options) => {
    if (typeof file !== 'string' && !(file instanceof URL) && !Buffer.isBuffer(file)) return orig.P.writeFile(file, data, options);
    const flag = (typeof options === 'object' && options?.flag) || 'w';
    const fh = await P.open(file, flag, typeof options === 'object' ? options?.mode : undefined);
    try {
      await fh.writeFile(data, options);
    } finally {
      await fh.close();
    }
  };
  fs.writeFileSync = (file, data, options) => {
    if (typeof file === 'number') {
      step('write', file);
      return orig.fs.writeFileSync(file, data, options);
    }
    const flag = (typeof options === 'object' && options?.flag) || 'w';
    const fd = fs.openSync(file, flag, typeof options === 'object' ? options?.mode : undefined);
    try {
      step('write', file);
      orig.fs.writeFileSync(fd, data, options);
    } finally {
      fs.closeSync(fd);
    }
  };
  const isDir = async (p) => (await P.lstat(p)).isDirectory();
  const rmTree = async (target) => {
    if (await isDir(target)) {
      for (const n of await P.readdir(target)) await rmTree(path.join(target, n));
      await P.rmdir(target);
    } else await P.unlink(target);
  };
  P.rm = async (target, options = {}) => {
    try {
      if (options.recursive) await rmTree(String(target));
      else await P.unlink(target);
    } catch (err) {
      if (!(options.force && err.code === 'ENOENT')) throw err;
    }
  };
  const rmTreeSync = (target) => {
    if (fs.lstatSync(target).isDirectory()) {
      for (const n of fs.readdirSync(target)) rmTreeSync(path.join(target, n));
      fs.rmdirSync(target);
    } else fs.unlinkSync(target);
  };
  fs.rmSync = (target, options = {}) => {
    try {
      if (options.recursive) rmTreeSync(String(target));
      else fs.unlinkSync(target);
    } catch (err) {
      if (!(options.force && err.code === 'ENOENT')) throw err;
    }
  };
  /** The folders `mkdir -p target` would create, outermost first. */
  const missing = (target, exists) => {
    const out = [];
    for (let p = path.resolve(String(target)); !exists(p); p = path.dirname(p)) {
      out.unshift(p);
      if (path.dirname(p) === p) break;
    }
    return out;
  };
  const mkdirP = orig.P.mkdir;
  P.mkdir = async (target, options) => {
    const recursive = typeof options === 'object' && options?.recursive;
    const mode = typeof options === 'object' ? options?.mode : options;
    if (!recursive) {
      step('mkdir', target);
      return mkdirP(target, mode);
    }
    const todo = missing(target, (p) => fs.existsSync(p));
    for (const dir of todo) {
      step('mkdir', dir);
      try {
        await mkdirP(dir, mode);
      } catch (err) {
        if (err.code !== 'EEXIST') throw err;
      }
    }
    return todo[0];
  };
  fs.mkdirSync = (target, options) => {
    const recursive = typeof options === 'object' && options?.recursive;
    const mode = typeof options === 'object' ? options?.mode : options;
    const todo = recursive ? missing(target, (p) => fs.existsSync(p)) : [String(target)];
    for (const dir of todo) {
      step('mkdir', dir);
      try {
        orig.fs.mkdirSync(dir, mode);
      } catch (err) {
        if (!recursive || err.code !== 'EEXIST') throw err;
      }
    }
    return recursive ? todo[0] : undefined;
  };
  syncBuiltinESMExports();
}

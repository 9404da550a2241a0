import { globalName, type PickleGlobal, type PickleValue } from './pickle-scan.js';

/**
 * What the globals a pickle imports say about it: which framework made it, which class is at the top, whether a
 * loader would run something dangerous, and whether PyTorch's weights_only loader would accept it. All of it is
 * judged from names only; nothing is imported or called.
 */

export type PickleFramework = 'sklearn' | 'xgboost' | 'lightgbm' | 'torch' | 'numpy' | 'other';

/** Modules where any callable can run a command, load code or touch the network or files. */
const DANGEROUS_MODULES = new Set([
  'os',
  'posix',
  'nt',
  'subprocess',
  'pty',
  'commands',
  'runpy',
  'importlib',
  'ctypes',
  'socket',
  'shutil',
  'sys',
  'webbrowser',
  'code',
  'codeop',
  'marshal',
  'pickle',
  '_pickle',
  'cPickle',
  'dill',
  'cloudpickle',
  'multiprocessing',
  'asyncio',
  'requests',
  'urllib',
  'urllib2',
  'http',
  'httplib',
  'ftplib',
  'smtplib',
  'telnetlib',
  'platform',
  'pdb',
  'bdb',
  'timeit',
  'trace',
  'profile',
  'cProfile',
  'imp',
  'zipimport',
  'pkgutil',
  'site',
  'tempfile',
  'glob',
  'io',
]);

/** Builtins that evaluate code, import modules or reach arbitrary attributes (the usual gadget-chain pieces). */
const DANGEROUS_BUILTINS = new Set([
  'eval',
  'exec',
  'execfile',
  'compile',
  '__import__',
  'getattr',
  'setattr',
  'delattr',
  'open',
  'file',
  'input',
  'raw_input',
  'breakpoint',
  'globals',
  'locals',
  'vars',
  'apply',
  'reload',
  'memoryview',
]);

const DANGEROUS_NAMES = new Set([
  'operator.attrgetter',
  'operator.methodcaller',
  'functools.reduce',
  'types.CodeType',
  'types.FunctionType',
  'types.ModuleType',
  'numpy.testing._private.utils.runstring',
  'numpy.load',
  'torch.load',
  'torch.hub.load',
  'joblib.load',
  'tensorflow.io.gfile.GFile',
  'keras.utils.get_file',
]);

export function dangerousGlobal(g: PickleGlobal): boolean {
  const root = g.module.split('.')[0] ?? '';
  if (DANGEROUS_MODULES.has(root)) return true;
  if ((g.module === 'builtins' || g.module === '__builtin__') && DANGEROUS_BUILTINS.has(g.name)) return true;
  if (g.module === 'copyreg' && g.name.startsWith('extension#')) return true;
  if (g.module === '?' || g.name === '?') return true; // STACK_GLOBAL from values we could not resolve
  return DANGEROUS_NAMES.has(`${g.module}.${g.name}`);
}

const FRAMEWORK_ROOTS: Record<string, PickleFramework> = {
  sklearn: 'sklearn',
  xgboost: 'xgboost',
  lightgbm: 'lightgbm',
  torch: 'torch',
  numpy: 'numpy',
};

export function frameworkOfModule(module: string): PickleFramework {
  return FRAMEWORK_ROOTS[module.split('.')[0] ?? ''] ?? 'other';
}

/** Helpers that every pickle of an object graph imports; they say nothing about what the object is. */
const PLUMBING = new Set([
  'copyreg',
  'copy_reg',
  'builtins',
  '__builtin__',
  '_codecs',
  'collections',
  'joblib.numpy_pickle',
  'numpy.core.multiarray',
  'numpy._core.multiarray',
  'numpy',
  'numpy.dtypes',
  'numpy.random._pickle',
  'scipy.sparse',
  'functools',
]);

function classOfCall(value: PickleValue): string | undefined {
  if (value.kind !== 'object') return undefined;
  const callee = globalName(value.callable);
  // Protocol 0/1 objects come through copyreg._reconstructor(cls, base, state); protocol 2+ NEWOBJ names cls directly.
  if (callee === 'copyreg._reconstructor' || callee === 'copy_reg._reconstructor' || callee === 'copyreg.__newobj__') {
    return value.args.kind === 'tuple' ? globalName(value.args.items[0]) : undefined;
  }
  if (callee?.endsWith('multiarray._reconstruct')) return 'numpy.ndarray';
  return callee;
}

/** Where meta-estimators keep the estimator that predicts: a search's refitted best, a wrapper's inner one. */
const INNER_ESTIMATOR = ['best_estimator_', 'estimator'];
const MAX_NESTING = 16;

function stateEntry(value: PickleValue, key: string): PickleValue | undefined {
  const state = value.kind === 'object' ? value.state : undefined;
  if (state?.kind !== 'dict') return undefined;
  return state.entries.find(([k]) => k.kind === 'str' && k.value === key)?.[1];
}

/**
 * The classes from the pickled object down to the estimator that makes its predictions: a pipeline's last step
 * (`steps`), a search's `best_estimator_`, a wrapper's `estimator`, followed until `decides(class)` or an object
 * without such a field. ["sklearn.pipeline.Pipeline", "...GradientBoostingClassifier"]: the gradient-boosted
 * trees inside (regressors) are not on the path, whatever their place in the byte stream.
 */
export function estimatorChain(root: PickleValue | undefined, decides: (cls: string) => boolean): string[] {
  const chain: string[] = [];
  let value = root;
  while (value && chain.length < MAX_NESTING) {
    const cls = classOfCall(value);
    if (!cls) break;
    chain.push(cls);
    if (decides(cls)) break;
    const steps = stateEntry(value, 'steps');
    const last = steps?.kind === 'list' ? steps.items.at(-1) : undefined;
    if (last) value = last.kind === 'tuple' ? last.items[1] : undefined;
    else value = INNER_ESTIMATOR.map((k) => stateEntry(value as PickleValue, k)).find((v) => v?.kind === 'object');
  }
  return chain;
}

/** The class of the pickled object: from the value at STOP when the walk got there, else the first real class. */
export function topLevelClass(root: PickleValue | undefined, globals: PickleGlobal[]): string | undefined {
  if (root) {
    const fromRoot = classOfCall(root);
    if (fromRoot) return fromRoot;
    if (root.kind === 'dict' || root.kind === 'list' || root.kind === 'tuple' || root.kind === 'set') return `builtins.${root.kind}`;
  }
  const first = globals.find((g) => !PLUMBING.has(g.module) && !g.module.startsWith('numpy.'));
  return first ? `${first.module}.${first.name}` : undefined;
}

export function frameworkOf(topClass: string | undefined, globals: PickleGlobal[]): PickleFramework {
  const fromTop = topClass ? frameworkOfModule(topClass) : 'other';
  if (fromTop !== 'other' && fromTop !== 'numpy') return fromTop;
  // A dict or list of models: the framework most of its classes come from, numpy only when nothing else is there.
  const counts = new Map<PickleFramework, number>();
  for (const g of globals) {
    const f = frameworkOfModule(g.module);
    if (f !== 'other' && f !== 'numpy') counts.set(f, (counts.get(f) ?? 0) + 1);
  }
  const best = [...counts.entries()].sort((a, b) => b[1] - a[1])[0];
  if (best) return best[0];
  return fromTop === 'numpy' || globals.some((g) => g.module.startsWith('numpy')) ? 'numpy' : 'other';
}

const TORCH_ALLOWED = new Set([
  'collections.OrderedDict',
  'collections.Counter',
  'torch.nn.parameter.Parameter',
  'torch.serialization._get_layout',
  'torch.Size',
  'torch.Tensor',
  'torch.device',
  '_codecs.encode',
  'builtins.bytearray',
  'builtins.set',
  'builtins.complex',
  'torch._tensor._rebuild_from_type_v2',
  'torch.storage.TypedStorage',
  'torch.storage.UntypedStorage',
]);

const TORCH_DTYPE =
  /^(u?int\d+|float\d*(_e\w+)?|bfloat16|complex\d+|c?half|cfloat|cdouble|bool|double|long|short|int|q(u)?int\w+|bits\w+)$/;

/**
 * Whether torch.load(weights_only=True) accepts this global by default, after torch's own allowlist: tensor and
 * storage classes, dtypes, quantization schemes, the _rebuild_* functions and a few containers. Anything else
 * (model classes, __main__ classes, numpy) makes it refuse the file unless the user allowlists it.
 */
export function torchWeightsOnlyAllows(g: PickleGlobal): boolean {
  // Protocol 2 pickles name Python 2 modules; torch maps them to their Python 3 names before checking.
  const module = g.module === '__builtin__' ? 'builtins' : g.module === 'copy_reg' ? 'copyreg' : g.module;
  const full = `${module}.${g.name}`;
  if (TORCH_ALLOWED.has(full)) return true;
  if (g.module === 'torch._utils' && g.name.startsWith('_rebuild_')) return true;
  if (g.module === 'torch' || g.module === 'torch.cuda') {
    return /(Storage|Tensor)$/.test(g.name) || TORCH_DTYPE.test(g.name) || g.name.startsWith('per_');
  }
  return false;
}

export function dottedNames(globals: PickleGlobal[]): string[] {
  return globals.map((g) => `${g.module}.${g.name}`);
}

/** The one-line warning for a pickle whose globals include callables that can run code, or undefined. */
export function dangerWarning(where: string, globals: PickleGlobal[]): string | undefined {
  const dangerous = dottedNames(globals.filter(dangerousGlobal));
  if (dangerous.length === 0) return undefined;
  const shown = dangerous.slice(0, 8).join(', ') + (dangerous.length > 8 ? `, and ${dangerous.length - 8} more` : '');
  return `${where} references ${shown}: loading it can run commands or arbitrary code; do not load it unless you trust its source`;
}

import { ModelctlError } from '../errors.js';

/**
 * What an `mlflow://` argument names: a tracking server (its REST base URL and the credentials the environment
 * gives for it) and a registered model, with an alias or a version number when pulling.
 *
 *   mlflow://HOST:PORT/NAME            push target
 *   mlflow://HOST:PORT/NAME@ALIAS      pull by alias
 *   mlflow://HOST:PORT/NAME/N          pull version N
 *   mlflow:///NAME...                  the server of MLFLOW_TRACKING_URI (http(s)://HOST[:PORT][/PREFIX])
 *
 * Plain http is used for loopback hosts; any other host is reached over https unless `insecure` is set.
 * MLFLOW_TRACKING_TOKEN (bearer) or MLFLOW_TRACKING_USERNAME + MLFLOW_TRACKING_PASSWORD (basic) authenticate; they
 * are sent as a header and never shown or recorded.
 */

export const MLFLOW_SCHEME = 'mlflow://';

export interface MlflowServer {
  /** http(s)://HOST:PORT/PREFIX/ with a trailing slash: REST paths (api/2.0/...) are resolved against it. */
  base: URL;
  /** mlflow://HOST:PORT: how the server is shown and recorded (no credentials). */
  shown: string;
  headers: Record<string, string>;
}

export interface MlflowTarget {
  server: MlflowServer;
  name: string;
  alias?: string;
  version?: string;
  /** The argument in canonical form, as recorded in lineage: mlflow://HOST:PORT/NAME[@ALIAS|/N]. */
  uri: string;
}

const HINT = 'write mlflow://HOST:PORT/NAME (push), mlflow://HOST:PORT/NAME@ALIAS or mlflow://HOST:PORT/NAME/VERSION (pull)';

export function isMlflowUri(text: string): boolean {
  return text.trim().toLowerCase().startsWith(MLFLOW_SCHEME);
}

function usage(message: string, hint = HINT): ModelctlError {
  return new ModelctlError('USAGE', message, { hint });
}

function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

function authHeaders(env: NodeJS.ProcessEnv): Record<string, string> {
  const token = env.MLFLOW_TRACKING_TOKEN;
  if (token) return { authorization: `Bearer ${token}` };
  const user = env.MLFLOW_TRACKING_USERNAME;
  const password = env.MLFLOW_TRACKING_PASSWORD;
  if (user === undefined && password === undefined) return {};
  if (!user || password === undefined) {
    throw usage('MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD go together: one is set without the other', 'set both, or neither');
  }
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

/** The server's base URL from an authority (HOST:PORT) or, when it is empty, from MLFLOW_TRACKING_URI. */
function serverBase(authority: string, env: NodeJS.ProcessEnv, insecure: boolean): URL {
  let url: URL;
  if (authority === '') {
    const tracking = env.MLFLOW_TRACKING_URI;
    if (!tracking) throw usage('mlflow:/// names no server and MLFLOW_TRACKING_URI is not set');
    try {
      url = new URL(tracking);
    } catch {
      throw usage(`MLFLOW_TRACKING_URI is not a URL: ${JSON.stringify(tracking)}`, 'e.g. MLFLOW_TRACKING_URI=http://127.0.0.1:5000');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw usage(
        `MLFLOW_TRACKING_URI must be an http(s) URL of a tracking server, not ${url.protocol}`,
        'e.g. https://mlflow.example.com',
      );
    }
  } else {
    try {
      url = new URL(`http://${authority}/`);
    } catch {
      throw usage(`invalid MLflow server ${JSON.stringify(authority)}`);
    }
    if (url.username || url.password) {
      throw usage(
        'credentials do not belong in the mlflow:// URI',
        'set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD',
      );
    }
    if (!isLoopback(url.hostname) && !insecure) url.protocol = 'https:';
  }
  if (url.protocol === 'http:' && !isLoopback(url.hostname) && !insecure) {
    throw usage(
      `refusing plain http to ${url.host}: credentials and models would cross the network unencrypted`,
      'use https, or pass --insecure',
    );
  }
  url.username = '';
  url.password = '';
  url.search = '';
  url.hash = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

function decodeName(text: string): string {
  let name: string;
  try {
    name = decodeURIComponent(text);
  } catch {
    throw usage(`invalid %-escape in ${JSON.stringify(text)}`);
  }
  if (name.trim() === '' || /[\x00-\x1f\x7f]/.test(name)) throw usage(`invalid MLflow model name ${JSON.stringify(name)}`);
  return name;
}

/** Parses an mlflow:// argument; `pull` needs @ALIAS or /VERSION, `push` takes a bare name. */
export function parseMlflowUri(text: string, o: { env: NodeJS.ProcessEnv; insecure?: boolean; for: 'push' | 'pull' }): MlflowTarget {
  const t = text.trim();
  if (!isMlflowUri(t)) throw usage(`not an mlflow:// URI: ${JSON.stringify(text)}`);
  const rest = t.slice(MLFLOW_SCHEME.length);
  const slash = rest.indexOf('/');
  if (slash < 0 || slash === rest.length - 1) throw usage(`${t} names no registered model`);
  const base = serverBase(rest.slice(0, slash), o.env, o.insecure === true);
  const shown = `mlflow://${base.host}${base.pathname.replace(/\/$/, '')}`;
  const server: MlflowServer = { base, shown, headers: authHeaders(o.env) };
  const path = rest.slice(slash + 1);
  if (o.for === 'push') {
    if (path.includes('@')) throw usage(`${t}: a push target takes no @ALIAS`, 'give aliases with --alias');
    const name = decodeName(path);
    return { server, name, uri: `${shown}/${path}` };
  }
  const at = path.lastIndexOf('@');
  if (at >= 0) {
    const alias = path.slice(at + 1);
    if (!/^[A-Za-z0-9_-]+$/.test(alias)) throw usage(`invalid MLflow alias ${JSON.stringify(alias)}`);
    return { server, name: decodeName(path.slice(0, at)), alias, uri: `${shown}/${path}` };
  }
  const m = /^(.+)\/([1-9][0-9]{0,9})$/.exec(path);
  if (!m) throw usage(`${t} names no version: add @ALIAS or /VERSION`);
  return { server, name: decodeName(m[1] as string), version: m[2] as string, uri: `${shown}/${path}` };
}

/** mlflow:// arguments: which server, over which protocol, with which credentials, naming what. No server needed. */
import { describe, expect, it } from 'vitest';
import { parseMlflowUri } from '../../src/mlflow/target.js';
import { rejects } from '../helpers.js';

const parse = (text: string, env: NodeJS.ProcessEnv = {}, o: { insecure?: boolean; for?: 'push' | 'pull' } = {}) =>
  parseMlflowUri(text, { env, insecure: o.insecure ?? false, for: o.for ?? 'pull' });

describe('mlflow:// URIs', () => {
  it('names a loopback server over http, any other over https unless --insecure', () => {
    expect(parse('mlflow://127.0.0.1:5000/iris@champion').server.base.href).toBe('http://127.0.0.1:5000/');
    expect(parse('mlflow://localhost:5000/iris/3').server.base.href).toBe('http://localhost:5000/');
    expect(parse('mlflow://[::1]:5000/iris/3').server.base.href).toBe('http://[::1]:5000/');
    expect(parse('mlflow://mlflow.example.com/iris/3').server.base.href).toBe('https://mlflow.example.com/');
    expect(parse('mlflow://10.0.0.5:5000/iris/3', {}, { insecure: true }).server.base.href).toBe('http://10.0.0.5:5000/');
  });

  it('takes the server of MLFLOW_TRACKING_URI for mlflow:///NAME, prefix included, and refuses plain http off loopback', async () => {
    const t = parse('mlflow:///iris@prod', { MLFLOW_TRACKING_URI: 'https://ml.example.com/mlflow' });
    expect(t.server.base.href).toBe('https://ml.example.com/mlflow/');
    expect(t.server.shown).toBe('mlflow://ml.example.com/mlflow');
    expect(t.uri).toBe('mlflow://ml.example.com/mlflow/iris@prod');
    await rejects(
      Promise.resolve().then(() => parse('mlflow:///iris@prod', { MLFLOW_TRACKING_URI: 'http://ml.example.com' })),
      'USAGE',
      /refusing plain http to ml\.example\.com/,
    );
    await rejects(
      Promise.resolve().then(() => parse('mlflow:///iris@prod')),
      'USAGE',
      /MLFLOW_TRACKING_URI is not set/,
    );
    await rejects(
      Promise.resolve().then(() => parse('mlflow:///iris@prod', { MLFLOW_TRACKING_URI: 'databricks' })),
      'USAGE',
      /not a URL/,
    );
  });

  it('reads the name and an alias or a version; push takes a bare name', async () => {
    expect(parse('mlflow://127.0.0.1:5000/iris@champion')).toMatchObject({ name: 'iris', alias: 'champion' });
    expect(parse('mlflow://127.0.0.1:5000/team/iris/12')).toMatchObject({ name: 'team/iris', version: '12' });
    expect(parse('mlflow://127.0.0.1:5000/my%20model/1')).toMatchObject({ name: 'my model', version: '1' });
    expect(parse('mlflow://127.0.0.1:5000/iris', {}, { for: 'push' })).toMatchObject({ name: 'iris' });
    await rejects(
      Promise.resolve().then(() => parse('mlflow://127.0.0.1:5000/iris')),
      'USAGE',
      /names no version/,
    );
    await rejects(
      Promise.resolve().then(() => parse('mlflow://127.0.0.1:5000/')),
      'USAGE',
      /names no registered model/,
    );
    await rejects(
      Promise.resolve().then(() => parse('mlflow://127.0.0.1:5000/iris@a b')),
      'USAGE',
      /invalid MLflow alias/,
    );
    await rejects(
      Promise.resolve().then(() => parse('mlflow://127.0.0.1:5000/iris@prod', {}, { for: 'push' })),
      'USAGE',
      /takes no @ALIAS/,
    );
    await rejects(
      Promise.resolve().then(() => parse('mlflow://u:p@127.0.0.1:5000/iris/1')),
      'USAGE',
      /credentials do not belong/,
    );
  });

  it('authenticates with MLFLOW_TRACKING_TOKEN, or with the username and password together', async () => {
    expect(parse('mlflow://127.0.0.1:5000/iris/1', { MLFLOW_TRACKING_TOKEN: 't0k' }).server.headers).toEqual({
      authorization: 'Bearer t0k',
    });
    const basic = parse('mlflow://127.0.0.1:5000/iris/1', { MLFLOW_TRACKING_USERNAME: 'ann', MLFLOW_TRACKING_PASSWORD: 'pw' });
    expect(basic.server.headers).toEqual({ authorization: `Basic ${Buffer.from('ann:pw').toString('base64')}` });
    expect(parse('mlflow://127.0.0.1:5000/iris/1').server.headers).toEqual({});
    const err = await rejects(
      Promise.resolve().then(() => parse('mlflow://127.0.0.1:5000/iris/1', { MLFLOW_TRACKING_USERNAME: 'ann' })),
      'USAGE',
      /go together/,
    );
    expect(err.message).not.toContain('ann');
  });
});

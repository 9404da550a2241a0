import type { Device } from '../../runtime/device.js';
import { ModelctlError } from '../../errors.js';
import { duration, flag, int, size, text, value, wholeNumber, type CommandSpec } from '../declare.js';
import { type ConvertFlags, convertOptions, deviceOption, fallbackOption, threadsOption } from './session.js';

export interface ServeFlags extends ConvertFlags {
  host: string;
  port: number;
  maxModelsInRam: number;
  /** Bytes. */
  maxMemory: number;
  maxBatch: number;
  maxWaitMs: number;
  /** Checked by the command, which falls back on $MODELCTL_SERVE_TOKEN. */
  token?: string;
  maxBody: number;
  maxUpload: number;
  maxJobs: number;
  device: Device;
  fallback?: 'cpu';
  threads?: number;
  shutdownTimeoutMs: number;
  verify?: boolean;
  json?: boolean;
}

function port(text: string, flag: string): number {
  const n = wholeNumber(flag, text, 0);
  if (n > 65535) throw new ModelctlError('USAGE', `${flag} takes 0 to 65535, got ${n}`);
  return n;
}

export const serveCommand: CommandSpec<ServeFlags> = {
  name: 'serve',
  description:
    'serve the registry over HTTP: the Open Inference Protocol (KServe v2), task-level predict and the registry API under /v1 and /model-registry, OpenAI-compatible /v1/chat/completions and /v1/completions for text-generation models, pull and export as jobs',
  options: {
    ...convertOptions,
    host: text('--host <host>', 'address to listen on (0.0.0.0: every interface)', { default: '127.0.0.1' }),
    port: value('--port <port>', 'port (0 picks a free one)', port, { default: '8080' }),
    maxModelsInRam: int('--max-models-in-ram <n>', 'ONNX Runtime sessions kept loaded; the least recently used is evicted', 1, {
      default: '4',
    }),
    maxMemory: size(
      '--max-memory <size>',
      'model bytes (files and external data) kept loaded; the least recently used is evicted beyond it',
      {
        default: '4GB',
      },
    ),
    maxBatch: int('--max-batch <n>', 'rows merged into one ONNX Runtime run (1 turns dynamic batching off)', 1, { default: '32' }),
    maxWaitMs: int('--max-wait-ms <ms>', 'how long the first request of a batch waits for others', 0, { default: '5' }),
    token: text(
      '--token <token>',
      'require Authorization: Bearer TOKEN on every endpoint but /v2/health/* (default: $MODELCTL_SERVE_TOKEN)',
    ),
    maxBody: size('--max-body <size>', 'largest JSON or inference request', { default: '64MB' }),
    maxUpload: size('--max-upload <size>', 'largest uploaded model file', { default: '16GB' }),
    maxJobs: int('--max-jobs <n>', 'pull and export jobs started over HTTP that run at once; the rest wait in order', 1, { default: '2' }),
    device: deviceOption,
    fallback: fallbackOption,
    threads: threadsOption('intra-op threads per session (default: ONNX Runtime chooses)'),
    shutdownTimeoutMs: duration('--shutdown-timeout <duration>', 'on SIGTERM or Ctrl-C, how long in-flight requests may take to finish', {
      default: '30s',
    }),
    verify: flag('--verify', "re-hash a version's files each time it is loaded and each file before it is downloaded"),
    json: flag('--json', 'print the listening address as one JSON line, and requests as JSON Lines with --verbose'),
  },
  examples: [
    'modelctl serve',
    'modelctl serve --port 9000 --max-memory 4GB --max-models-in-ram 8 --token "$TOKEN"',
    'curl localhost:8080/v2/models/iris',
    'curl -X POST localhost:8080/v2/models/iris/infer -d \'{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}]}\'',
    'curl -X POST localhost:8080/v1/models/iris/predict -d \'{"rows":[[5.1,3.5,1.4,0.2]]}\'',
    'curl -N localhost:8080/v1/chat/completions -d \'{"model":"llama-chat","messages":[{"role":"user","content":"Hi"}],"stream":true}\'',
    'curl -X POST localhost:8080/v1/pull -d \'{"source":"hf:org/name"}\'   # then GET /v1/jobs/{id}',
  ],
};

import type { Command } from 'commander';
import type { SpecTools } from './tools.js';

/** Declares `modelctl serve`. */
export function declare(program: Command, tools: SpecTools): void {
  tools.example(
    program.command('serve').description('serve the registry over HTTP: the Open Inference Protocol (KServe v2), task-level predict and the registry API under /v1')
      .option('--host <host>', 'address to listen on (0.0.0.0: every interface)', '127.0.0.1')
      .option('--port <port>', 'port (0 picks a free one)', '8080')
      .option('--max-models-in-ram <n>', 'ONNX Runtime sessions kept loaded; the least recently used is evicted', '4')
      .option('--max-memory <size>', 'model bytes (files and external data) kept loaded; the least recently used is evicted beyond it', '4GB')
      .option('--max-batch <n>', 'rows merged into one ONNX Runtime run (1 turns dynamic batching off)', '32')
      .option('--max-wait-ms <ms>', 'how long the first request of a batch waits for others', '5')
      .option('--token <token>', 'require Authorization: Bearer TOKEN on every endpoint but /v2/health/* (default: $MODELCTL_SERVE_TOKEN)')
      .option('--max-body <size>', 'largest JSON or inference request', '64MB')
      .option('--max-upload <size>', 'largest uploaded model file', '16GB')
      .option('--device <device>', 'cpu, cuda or cuda:N', 'cpu')
      .option('--fallback <device>', 'run on this device if --device cannot be used (only cpu)')
      .option('--threads <n>', 'intra-op threads per session (default: ONNX Runtime chooses)')
      .option('--shutdown-timeout <duration>', 'on SIGTERM or Ctrl-C, how long in-flight requests may take to finish', '30s')
      .option('--verify', 're-hash a version\'s files each time it is loaded and each file before it is downloaded')
      .option('--json', 'print the listening address as one JSON line, and requests as JSON Lines with --verbose'),
    'modelctl serve',
    'modelctl serve --port 9000 --max-memory 4GB --max-models-in-ram 8 --token "$TOKEN"',
    'curl localhost:8080/v2/models/iris',
    'curl -X POST localhost:8080/v2/models/iris/infer -d \'{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}]}\'',
    'curl -X POST localhost:8080/v1/models/iris/predict -d \'{"rows":[[5.1,3.5,1.4,0.2]]}\'',
  ).action(tools.action('serve'));
}

import type { Command } from 'commander';
import type { SpecTools } from './tools.js';

/** Declares `modelctl pull`. */
export function declare(program: Command, tools: SpecTools): void {
  tools.example(
    program.command('pull').description('download a model from the Hugging Face Hub, a URL or a folder into the registry, every file verified')
      .argument('<source>', 'hf:ORG/NAME[@REV] or ORG/NAME (the Hub), an https:// URL of a file, or a path (./folder)')
      .option('--revision <rev>', 'Hub branch, tag or commit (default: main)')
      .option('--include <glob>', 'take only files matching (repeatable; replaces the default selection)', tools.collect)
      .option('--exclude <glob>', 'leave out files matching (repeatable)', tools.collect)
      .option('--name <name>', 'registry name (default: the repo id, or the file or folder name)')
      .option('--version <version>', 'version (default: the commit\'s short sha for the Hub, else the next patch)')
      .option('--endpoint <url>', 'Hub endpoint (default: $HF_ENDPOINT, else https://huggingface.co)')
      .option('--token <token>', 'Hub token (default: $HF_TOKEN, else the token hf auth login saved); never printed or stored')
      .option('--concurrency <n>', 'files downloaded at once', '4')
      .option('--offline', 'use only the registry and the HF cache (also HF_HUB_OFFLINE=1)')
      .option('--progress', 'print progress on stderr even when it is not a terminal')
      .option('--json', 'print JSON'),
    'modelctl pull hf:sentence-transformers/all-MiniLM-L6-v2',
    'modelctl pull org/model --revision v1.0 --include "*.json" --include "onnx/model.onnx"',
    'modelctl pull hf:org/model --exclude "*.bin" --name my-model --concurrency 8',
    'HF_HUB_OFFLINE=1 modelctl pull hf:org/model    # from the registry or the HF cache only',
    'modelctl pull https://example.com/models/resnet18.onnx --name resnet18',
    'modelctl pull ./exported-folder --name org/exported',
  ).action(tools.action('pull'));
}

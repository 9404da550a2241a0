import { ModelctlError } from '../errors.js';

/**
 * onnxruntime's exceptions carry C++ plumbing: a "Load model from X failed:" prefix, a status code, the source file
 * and line, the full signature of the throwing function, and sometimes several lines. Users need the sentence at
 * the end of the first line.
 */
export function ortFirstLine(text: string): string {
  let line =
    text
      .split(/\r?\n/)
      .find((l) => l.trim() !== '')
      ?.trim() ?? '';
  line = line.replace(/^Load model from .+? failed:\s*/, '');
  line = line.replace(/^\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*\w+\s*:\s*/, '');
  const location = /^\S+\.(?:cc|cpp|cu|h|hpp):\d+\s+/.exec(line);
  if (location) line = stripSignature(line.slice(location[0].length));
  const max = 300;
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** Drops a leading C++ function signature (`void ns::F(const T&, int) const `), parentheses balanced. */
function stripSignature(text: string): string {
  const head = /^[\w:<>,*&~\s]*?\w\(/.exec(text);
  if (!head?.[0].includes('::')) return text;
  let depth = 0;
  for (let i = head[0].length - 1; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) {
      return (
        text
          .slice(i + 1)
          .replace(/^\s*const\b/, '')
          .trimStart() || text
      );
    }
  }
  return text;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const NOT_ONNX = /Protobuf parsing failed|does not have a graph|ModelProto|not a valid|invalid model/i;
const UNSUPPORTED = /IR version|opset|not a registered function\/op|Could not find an implementation|No opset import|custom op/i;

/** An exception from creating a session on a CPU: the model file is the cause, whatever ORT's wording. */
export function modelLoadError(err: unknown, path: string, ortVersion?: string): ModelctlError {
  const reason = ortFirstLine(errorText(err)) || 'unknown error';
  const runtime = ortVersion ? `onnxruntime ${ortVersion}` : 'this onnxruntime';
  let hint = 'check that the file is a complete ONNX model (`modelctl info PATH` shows what it contains)';
  if (NOT_ONNX.test(reason)) hint = 'the file is not a valid ONNX model: check that it is complete (not truncated) and really ONNX';
  else if (UNSUPPORTED.test(reason)) {
    hint = `the model uses versions or operators ${runtime} does not support: re-export it with an older opset, or without custom operators`;
  }
  return new ModelctlError('CORRUPT_MODEL', `onnxruntime cannot load ${path}: ${reason}`, {
    hint,
    cause: err,
    details: { path, reason },
  });
}

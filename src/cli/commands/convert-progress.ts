import type { AutoConvert, ConvertEvent } from '../../predict/types.js';
import type { ConvertFlags } from '../specs/session.js';
import type { CliContext } from '../context.js';
import { startProgress, type Progress } from '../render/progress.js';

/**
 * The auto-conversion options of predict, bench and serve from their flags, with its progress on stderr: a spinner
 * while the managed converter runs, one line saying which ONNX version runs in place of the registered model.
 * `stop()` ends the spinner whatever happened; with `shown`, the caller's spinner is updated instead and left to it.
 */
export function autoConvert(flags: ConvertFlags, ctx: CliContext, shown?: Progress): { autoConvert: AutoConvert; stop: () => void } {
  const { out } = ctx;
  let progress: Progress | undefined = shown;
  let starting: Promise<Progress> | undefined;
  const onProgress = (e: ConvertEvent): void => {
    if (e.type === 'convert-reused') out.note(`${e.from} is not ONNX: running its export ${e.to}`);
    else if (e.type === 'convert-start') {
      out.note(`${e.from} is not ONNX: exporting it once with the managed converter (--no-convert refuses instead)`);
      if (shown) shown.update(`Exporting ${e.from}`);
      else
        starting = startProgress(out, `Exporting ${e.from}`).then((p) => {
          progress = p;
          return p;
        });
    } else if (e.type === 'convert-done') {
      if (!shown) progress?.stop();
      out.note(`exported ${e.from} as ${e.to}; later runs use it`);
    } else {
      const x = e.event;
      if (x.type === 'converter') {
        progress?.update(x.message);
        out.debug(`[${x.stage}] ${x.message}`);
      } else if (x.type === 'warning') out.warn(x.message);
    }
  };
  return {
    autoConvert: {
      convert: flags.convert,
      ...(flags.python ? { python: flags.python } : {}),
      onProgress,
      signal: ctx.signal,
    },
    stop: () => {
      if (shown) return; // the caller's to stop
      progress?.stop();
      void starting?.then((p) => p.stop());
    },
  };
}

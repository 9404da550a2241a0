import { checkout } from '../../pull/write-out.js';
import { openRegistry, type CliContext } from '../context.js';
import type { CheckoutFlags } from '../specs/checkout.js';

export async function run([ref = '', dir = '']: string[], options: CheckoutFlags, ctx: CliContext): Promise<number> {
  const { out } = ctx;
  const result = await checkout({ registry: openRegistry(ctx), ref, dir, ...(options.force ? { force: true } : {}) });
  const m = result.manifest;
  out.result({ ref: `${m.name}:${m.version}`, dir: result.dir, written: result.written, same: result.same }, () => {
    const { c } = out;
    return `${c.green('Checked out')} ${c.bold(`${m.name}:${m.version}`)} into ${result.dir} (${result.written.length} written, ${result.same.length} already there)`;
  });
  return 0;
}

import { buildProgram } from '../../src/cli/main.js';

/**
 * What argv turns into, without running anything: the command, its positional arguments, and its typed options
 * with the global ones merged in. A bad value throws the usage error the command would print.
 */
export async function parseArgv(argv: string[]): Promise<{ name: string; args: string[]; options: Record<string, unknown> }> {
  let seen: { name: string; args: string[]; options: Record<string, unknown> } | undefined;
  const program = buildProgram(async (invocation) => {
    seen = { name: invocation.name, args: invocation.args, options: { ...invocation.options(), ...invocation.globals } };
  });
  for (const c of [program, ...program.commands]) c.configureOutput({ writeOut: () => {}, writeErr: () => {} });
  await program.parseAsync(argv, { from: 'user' });
  if (!seen) throw new Error('no command ran');
  return seen;
}

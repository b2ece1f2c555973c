/** The podgate command line: every command has --help, every failure a code and a next step. */
import { Command, CommanderError } from 'commander';
import { CliError, stdio } from './common.js';
import { registerAdvise } from './commands/advise.js';
import { registerConformance } from './commands/conformance.js';
import { registerDemo } from './commands/demo.js';
import { registerDiff } from './commands/diff.js';
import { registerDrops } from './commands/drops.js';
import { registerExplain } from './commands/explain.js';
import { registerFlows } from './commands/flows.js';
import { registerIdentity } from './commands/identity.js';
import { registerLint } from './commands/lint.js';
import { registerMatrix } from './commands/matrix.js';
import { registerObserve } from './commands/observe.js';
import { registerRelay } from './commands/relay.js';
import { registerValidate } from './commands/validate.js';
import { registerVerify } from './commands/verify.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('podgate')
    .description('Zero-trust networking for Kubernetes: authenticated, authorized and observed pod connections.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text), writeOut: (text) => process.stdout.write(text) });
  registerValidate(program);
  registerExplain(program);
  registerMatrix(program);
  registerConformance(program);
  registerDemo(program);
  registerObserve(program);
  registerFlows(program);
  registerRelay(program);
  registerDrops(program);
  registerAdvise(program);
  registerVerify(program);
  registerDiff(program);
  registerLint(program);
  registerIdentity(program);
  // Subcommands too: a parse error anywhere must end in main's handler, not process.exit.
  const all = (command: Command): Command[] => [command, ...command.commands.flatMap(all)];
  for (const command of all(program)) command.exitOverride();
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof CliError) {
      stdio.err(`podgate: error ${error.code}: ${error.message}${error.hint ? `\n  next: ${error.hint}` : ''}`);
      return error.exitCode;
    }
    stdio.err(`podgate: internal error PODGATE_E_INTERNAL: ${error instanceof Error ? error.message : String(error)}\n  next: please report this${process.env['PODGATE_DEBUG'] ? '' : '; set PODGATE_DEBUG=1 for the stack trace'}`);
    if (process.env['PODGATE_DEBUG'] && error instanceof Error) stdio.err(error.stack ?? '');
    return 70;
  }
}

/** The podgate command line: every command has --help, every failure a code and a next step. */
import { Command, CommanderError } from 'commander';
import { CliError, stdio } from './common.js';
import { registerConformance } from './commands/conformance.js';
import { registerDemo } from './commands/demo.js';
import { registerExplain } from './commands/explain.js';
import { registerMatrix } from './commands/matrix.js';
import { registerValidate } from './commands/validate.js';
export function buildProgram() {
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
    for (const command of program.commands)
        command.exitOverride();
    return program;
}
export async function main(argv) {
    const program = buildProgram();
    try {
        await program.parseAsync(argv, { from: 'user' });
        return typeof process.exitCode === 'number' ? process.exitCode : 0;
    }
    catch (error) {
        if (error instanceof CommanderError) {
            // --help and --version end here too, with exit code 0.
            return error.exitCode === 0 ? 0 : 2;
        }
        if (error instanceof CliError) {
            stdio.err(`podgate: error ${error.code}: ${error.message}${error.hint ? `\n  next: ${error.hint}` : ''}`);
            return error.exitCode;
        }
        stdio.err(`podgate: internal error PODGATE_E_INTERNAL: ${error instanceof Error ? error.message : String(error)}\n  next: please report this${process.env['PODGATE_DEBUG'] ? '' : '; set PODGATE_DEBUG=1 for the stack trace'}`);
        if (process.env['PODGATE_DEBUG'] && error instanceof Error)
            stdio.err(error.stack ?? '');
        return 70;
    }
}
//# sourceMappingURL=main.js.map
/**
 * Test-only: runs the real `openssl` CLI on files in a temporary directory, to check podgate's
 * certificates and CSRs against OpenSSL. Tests that need it pass `{ skip: opensslMissing }`, so a
 * machine without OpenSSL skips them with the reason instead of failing.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const probe = spawnSync('openssl', ['version'], { encoding: 'utf8' });

/** Why openssl tests are skipped (it does not run here), or false when it runs. */
export const opensslMissing: string | false =
  probe.error || probe.status !== 0 ? 'openssl is not on PATH: install OpenSSL to run the openssl interop checks' : false;

export interface OpensslResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A scratch directory with openssl at hand; `cleanup()` removes it. */
export class Scratch {
  readonly dir = mkdtempSync(join(tmpdir(), 'podgate-id-'));

  path(name: string): string {
    return join(this.dir, name);
  }

  write(name: string, content: string | Uint8Array): string {
    const path = this.path(name);
    writeFileSync(path, content);
    return path;
  }

  read(name: string): Buffer {
    return readFileSync(this.path(name));
  }

  openssl(...args: string[]): OpensslResult {
    const result = spawnSync('openssl', args, { cwd: this.dir, encoding: 'utf8' });
    if (result.error) throw result.error;
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  /** Runs openssl and fails loudly when it exits non-zero. */
  opensslOk(...args: string[]): string {
    const result = this.openssl(...args);
    if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${result.stderr}`);
    return result.stdout;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

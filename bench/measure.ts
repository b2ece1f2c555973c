/** What the benchmarks share: timing, rounding, and running the other side's command line. */
import { spawnSync } from 'node:child_process';

export function seconds(work: () => void): number {
  const start = process.hrtime.bigint();
  work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** A path as one shell word. */
export function quote(path: string): string {
  return `'${path.replace(/'/g, `'\\''`)}'`;
}

/** Runs a shell pipeline (bash, pipefail); an exit status outside `allowed` fails the benchmark. */
export function shell(script: string, allowed: readonly number[] = [0]): { status: number; stderr: string } {
  const result = spawnSync('bash', ['-o', 'pipefail', '-c', script], { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  const status = result.status ?? -1;
  const stderr = result.stderr.toString();
  if (!allowed.includes(status)) throw new Error(`benchmark step failed (${status}): ${script}\n${stderr.slice(0, 2000)}`);
  return { status, stderr };
}

/** Benchmarks that compare against Debian's jq need it installed; returns its version. */
export function requireJq(): string {
  const jq = spawnSync('jq', ['--version'], { encoding: 'utf8' });
  if (jq.status !== 0) throw new Error('jq is not installed: apt-get install -y jq');
  return jq.stdout.trim();
}

/** Benchmark figures: printed as JSON lines and recorded in docs/benchmarks.md with date and machine. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

export type Figure = Record<string, string | number | boolean | number[]> & { name: string };

/** The figures of one run: `add` keeps a figure and prints it as one JSON line. */
export function figureLog(log: (line: string) => void): { figures: Figure[]; add: (figure: Figure) => void } {
  const figures: Figure[] = [];
  return {
    figures,
    add: (figure) => {
      figures.push(figure);
      log(JSON.stringify(figure));
    },
  };
}

export function machine(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 1024 ** 3)} GiB, Node.js ${process.version}, ${process.platform}/${process.arch}`;
}

/** Replaces this benchmark's section of the file (or appends it), keeping the others. */
export function record(file: string, benchmark: string, figures: readonly Figure[], notes: readonly string[]): void {
  const header = '# Benchmarks\n\nFigures written by `npm run bench -- NAME`; each run replaces its own section. Ratios compare two things measured side by side in the same process.\n';
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : header;
  const start = `<!-- bench:${benchmark} -->`;
  const end = `<!-- /bench:${benchmark} -->`;
  const body = [
    start,
    `## ${benchmark}`,
    '',
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine()}.`,
    '',
    ...notes.map((note) => `- ${note}`),
    '',
    '```json',
    ...figures.map((figure) => JSON.stringify(figure)),
    '```',
    end,
  ].join('\n');
  const pattern = new RegExp(`${start}[\\s\\S]*?${end}`);
  const next = pattern.test(existing) ? existing.replace(pattern, body) : `${existing.trimEnd()}\n\n${body}\n`;
  writeFileSync(file, next);
}

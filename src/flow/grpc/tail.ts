/**
 * Reads a file and then the bytes appended to it, like `tail -f`, as an async iterable of chunks
 * for readFlowRecords. A file that shrinks (truncated or rotated in place) is read again from the
 * start. Ends when the signal aborts.
 */
import { watch, type FSWatcher } from 'node:fs';
import { open } from 'node:fs/promises';

export interface TailOptions {
  readonly signal: AbortSignal;
  /** Fallback poll for file systems where fs.watch misses appends (default 500 ms). */
  readonly pollMs?: number;
}

const CHUNK_BYTES = 64 * 1024;

export async function* tailFile(path: string, options: TailOptions): AsyncGenerator<Buffer> {
  const handle = await open(path, 'r');
  let watcher: FSWatcher | undefined;
  let wake: (() => void) | undefined;
  let poked = false;
  const poke = (): void => {
    poked = true;
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  try {
    watcher = watch(path, { persistent: false }, poke);
    watcher.on('error', () => undefined);
  } catch {
    watcher = undefined; // Polling alone still works.
  }
  options.signal.addEventListener('abort', poke, { once: true });
  const timer = setInterval(poke, options.pollMs ?? 500);
  timer.unref();
  let position = 0;
  try {
    while (!options.signal.aborted) {
      poked = false;
      const { size } = await handle.stat();
      if (size < position) position = 0;
      if (size > position) {
        const buffer = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, size - position));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
        position += bytesRead;
        if (bytesRead > 0) yield buffer.subarray(0, bytesRead);
        continue;
      }
      // A change seen while we were reading means: read again before sleeping.
      if (!poked) await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    clearInterval(timer);
    options.signal.removeEventListener('abort', poke);
    watcher?.close();
    await handle.close();
  }
}

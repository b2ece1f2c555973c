/** host:port for a listening socket: `0.0.0.0:4244`, `127.0.0.1:0`, `[::1]:4245`, `:4244` (all interfaces). */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** Parses a listen address; a RangeError says what is wrong. Port 0 asks the system for a free port. */
export function parseListenAddress(text: string): ListenAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9_.-]*)):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new RangeError(`"${text}" is not host:port (port 0 to 65535; IPv6 hosts in brackets)`);
  const host = match[1] ?? (match[2] === '' ? '0.0.0.0' : match[2]!);
  return { host, port };
}

/** How a listen address is printed (IPv6 hosts in brackets). */
export function formatListenAddress(address: ListenAddress): string {
  return `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
}

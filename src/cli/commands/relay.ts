import { hostname } from 'node:os';
import * as grpc from '@grpc/grpc-js';
import type { Command } from 'commander';
import { formatListenAddress, parseListenAddress, type ListenAddress } from '../../flow/grpc/listen.js';
import { parsePeer, startRelay, type RelayPeer, type RunningRelay } from '../../flow/grpc/relay.js';
import { CliError, collect, stdio, type Output } from '../common.js';
import { bindOrExplain, untilSignal } from './flows-serve.js';

interface RelayFlags {
  peer: string[];
  listen: string;
  nodeName?: string;
  connectTimeout: string;
}

/** `podgate relay`: one Hubble Observer API over several agents, like hubble-relay on port 4245. */
export function registerRelay(program: Command, output: Output = stdio): void {
  program
    .command('relay')
    .description('merge several observer servers (podgate flows serve or Hubble agents) into one Hubble Observer API, as hubble-relay does on port 4245')
    .option('--peer <[name=]host:port>', 'an observer to read from (repeatable); the name defaults to the address', collect, [])
    .option('--listen <host:port>', 'where to serve the merged Observer API (port 0 picks a free port)', '0.0.0.0:4245')
    .option('--node-name <name>', 'the relay\'s name on the node_status events it sends (default: the host name)')
    .option('--connect-timeout <ms>', 'how long a request waits for a peer that is still connecting', '5000')
    .addHelpText(
      'after',
      `
GetFlows first reports the peers it reads (node_status NODE_CONNECTED) and those it cannot reach
(NODE_UNAVAILABLE), then merges historical flows in time order (--last/--first apply to the merged
stream) or forwards followed flows as they arrive. A peer that is down is reported, never fatal.
Runs until SIGINT or SIGTERM; logs one line to stderr when listening, with the real port.

Exit status: 0 stopped by a signal, 2 bad usage or an address in use.
Examples:
  podgate relay --peer node-a=10.0.0.11:4244 --peer node-b=10.0.0.12:4244
  hubble observe --server 127.0.0.1:4245 --last 100 -o json`,
    )
    .action(async (flags: RelayFlags) => {
      await runRelay(flags, output);
    });
}

async function runRelay(flags: RelayFlags, output: Output): Promise<void> {
  // grpc-js would print its own error lines to stderr; podgate reports failures itself.
  grpc.setLogVerbosity(grpc.logVerbosity.NONE);
  if (flags.peer.length === 0) throw new CliError('PODGATE_E_USAGE', 'no peers given', 'pass --peer host:port (repeatable), e.g. --peer node-a=10.0.0.11:4244');
  let listen: ListenAddress;
  try {
    listen = parseListenAddress(flags.listen);
  } catch (error) {
    throw new CliError('PODGATE_E_USAGE', `--listen: ${error instanceof Error ? error.message : String(error)}`, 'for example --listen 0.0.0.0:4245');
  }
  const peers: RelayPeer[] = flags.peer.map((text) => {
    try {
      return parsePeer(text);
    } catch (error) {
      throw new CliError('PODGATE_E_USAGE', `--peer: ${error instanceof Error ? error.message : String(error)}`, 'for example --peer node-a=10.0.0.11:4244');
    }
  });
  const names = peers.map((peer) => peer.name);
  const duplicate = names.find((name, index) => names.indexOf(name) !== index);
  if (duplicate !== undefined) throw new CliError('PODGATE_E_USAGE', `--peer: the name "${duplicate}" is given twice`, 'give each peer its own name=host:port');
  if (!/^\d+$/.test(flags.connectTimeout) || Number(flags.connectTimeout) > 600_000) throw new CliError('PODGATE_E_USAGE', `--connect-timeout "${flags.connectTimeout}" is not a number of milliseconds (0 to 600000)`);
  const nodeName = flags.nodeName ?? hostname();
  let relay: RunningRelay | undefined;
  try {
    relay = await bindOrExplain('--listen', listen, () =>
      startRelay({ host: listen.host, port: listen.port, peers, nodeName, connectTimeoutMs: Number(flags.connectTimeout), onError: (message) => output.err(`podgate: warning PODGATE_W_RELAY: ${message}`) }),
    );
    output.err(`podgate: relay listening on ${formatListenAddress({ host: listen.host, port: relay.port })} for ${peers.length} peer${peers.length === 1 ? '' : 's'}: ${peers.map((peer) => (peer.name === peer.address ? peer.address : `${peer.name}=${peer.address}`)).join(', ')}`);
    const signal = await untilSignal();
    output.err(`podgate: ${signal}: shutting down`);
  } finally {
    await relay?.close();
  }
  process.exitCode = 0;
}

import type { Command } from 'commander';
import { registerFlowsExport } from './flows-export.js';
import { registerFlowsGenerate } from './flows-generate.js';
import { registerFlowsMetrics } from './flows-metrics.js';
import { registerFlowsServe } from './flows-serve.js';
import { registerFlowsStore } from './flows-store.js';

/** `podgate flows ...`: making, keeping, serving and exporting flow records. */
export function registerFlows(program: Command): void {
  const flows = program.command('flows').description('generate, store, serve, export and measure Hubble-compatible flow records');
  registerFlowsGenerate(flows);
  registerFlowsExport(flows);
  registerFlowsStore(flows);
  registerFlowsServe(flows);
  registerFlowsMetrics(flows);
}

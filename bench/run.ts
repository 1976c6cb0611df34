/**
 * `npm run bench -- <name>`: runs `bench/<name>.ts`, which exports `async function run()`.
 * The list of benchmarks is the `.ts` files next to this one (helpers live in bench/lib/).
 */
import '../infra/local/local-env';
import { readdirSync } from 'node:fs';
import { basename } from 'node:path';

interface BenchModule {
  run(): Promise<void>;
}

function isBenchModule(value: unknown): value is BenchModule {
  return typeof value === 'object' && value !== null && 'run' in value && typeof value.run === 'function';
}

function availableBenchmarks(): string[] {
  const self = basename(__filename).replace(/\.[cm]?[jt]s$/, '');
  return readdirSync(__dirname, { withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.ts$/.test(entry.name) && !entry.name.endsWith('.d.ts'))
    .map((entry) => entry.name.replace(/\.ts$/, ''))
    .filter((name) => name !== self)
    .sort();
}

async function main(): Promise<number> {
  const name = process.argv[2];
  const names = availableBenchmarks();
  if (name === undefined || !names.includes(name)) {
    console.error(name === undefined ? 'usage: npm run bench -- <name>' : `unknown benchmark "${name}"`);
    console.error(`available: ${names.join(', ')}`);
    return 1;
  }
  const loaded: unknown = await import(`./${name}`);
  if (!isBenchModule(loaded)) {
    console.error(`bench/${name}.ts does not export "async function run(): Promise<void>"`);
    return 1;
  }
  await loaded.run();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('benchmark failed:', error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** `npm start` is `tsx infra/local/main.ts`; the binary is run directly to get its exit code. */
const TSX = join(__dirname, '../../node_modules/.bin/tsx');
const MAIN = join(__dirname, '../../infra/local/main.ts');

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Distinct free ports: every probe stays open until all are chosen, so none is picked twice. */
async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  const ports: number[] = [];
  for (let i = 0; i < count; i++) {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    ports.push(typeof address === 'object' && address ? address.port : 0);
    servers.push(server);
  }
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

function start(env: Record<string, string>, args: string[] = []): Started {
  const child = spawn(TSX, [MAIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function waitFor(started: Started, text: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!started.output().includes(text)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for "${text}"; output:\n${started.output()}`);
    if (started.child.exitCode !== null) throw new Error(`exited with ${started.child.exitCode} before "${text}"; output:\n${started.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stop(started: Started): Promise<number | null> {
  if (started.child.exitCode === null) started.child.kill('SIGTERM');
  return started.exited;
}

let dataDir: string;
let ports: { ENGAGE_PORT: string; ENGAGE_DYNAMODB_PORT: string; ENGAGE_SES_PORT: string };

beforeEach(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'engage-start-'));
  const [api, dynamodb, ses] = await freePorts(3);
  ports = { ENGAGE_PORT: String(api), ENGAGE_DYNAMODB_PORT: String(dynamodb), ENGAGE_SES_PORT: String(ses) };
});

afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start', () => {
  it('prints URLs and keys, serves health, keeps data and keys in ENGAGE_DATA_DIR, and stops cleanly on SIGTERM', async () => {
    // Prepare
    const first = start({ ...ports, ENGAGE_DATA_DIR: dataDir });
    await waitFor(first, 'Ready.');
    const url = `http://127.0.0.1:${ports.ENGAGE_PORT}`;
    const writeKey = /Write key\s+(\S+)/.exec(first.output())?.[1] ?? '';
    const apiKey = /API key\s+(\S+)/.exec(first.output())?.[1] ?? '';
    expect(first.output()).toContain(url);
    expect(writeKey).not.toBe('');
    // Act
    expect((await fetch(`${url}/v1/health`)).status).toBe(200);
    const sent = await fetch(`${url}/v1/identify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` },
      body: JSON.stringify({ userId: 'kept', traits: { plan: 'pro' } }),
    });
    expect(sent.status).toBe(200);
    expect(await stop(first)).toBe(0);
    // Assess: a restart on the same folder has the profile and the same keys.
    const second = start({ ...ports, ENGAGE_DATA_DIR: dataDir });
    await waitFor(second, 'Ready.');
    expect(second.output()).toContain(writeKey);
    const profile = await fetch(`${url}/v1/profiles/kept`, { headers: { authorization: `Bearer ${apiKey}` } });
    expect(profile.status).toBe(200);
    expect(((await profile.json()) as { traits: unknown }).traits).toEqual({ plan: 'pro' });
    expect(await stop(second)).toBe(0);
  });

  it('fails fast with a clear message when the API port is taken', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(Number(ports.ENGAGE_PORT), '127.0.0.1', resolve));
    try {
      const started = start(ports);
      expect(await started.exited).toBe(1);
      expect(started.output()).toContain(`port ${ports.ENGAGE_PORT} is already in use (set ENGAGE_PORT)`);
    } finally {
      blocker.close();
    }
  });

  it('fails fast when the DynamoDB port is taken', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(Number(ports.ENGAGE_DYNAMODB_PORT), '127.0.0.1', resolve));
    try {
      const started = start(ports);
      expect(await started.exited).toBe(1);
      expect(started.output()).toContain('ENGAGE_DYNAMODB_PORT');
    } finally {
      blocker.close();
    }
  });

  it('fails fast when the SES port is taken', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(Number(ports.ENGAGE_SES_PORT), '127.0.0.1', resolve));
    try {
      const started = start(ports);
      expect(await started.exited).toBe(1);
      expect(started.output()).toContain('ENGAGE_SES_PORT');
    } finally {
      blocker.close();
    }
  });

  it('refuses a bad setting, naming it', async () => {
    const started = start({ ...ports, ENGAGE_TIME_SCALE: 'fast' });
    expect(await started.exited).toBe(1);
    expect(started.output()).toMatch(/ENGAGE_TIME_SCALE/);
  });

  it('loads the demo with --demo', async () => {
    const started = start({ ...ports, ENGAGE_API_KEY: 'demo-api-key-123' }, ['--demo']);
    await waitFor(started, 'Ready.');
    expect(started.output()).toContain('Demo loaded');
    const events = await fetch(`http://127.0.0.1:${ports.ENGAGE_PORT}/v1/profiles/demo-mary/events`, { headers: { authorization: 'Bearer demo-api-key-123' } });
    const body = (await events.json()) as { items: Array<{ event: string | null }> };
    // The anonymous visitor's page view was merged into Mary on identify.
    expect(body.items.map((e) => e.event)).toContain('Page Viewed');
    // The two demo audiences were backfilled over the demo profiles.
    const auth = { headers: { authorization: 'Bearer demo-api-key-123' } };
    const audiences = (await (await fetch(`http://127.0.0.1:${ports.ENGAGE_PORT}/v1/audiences`, auth)).json()) as { items: Array<{ id: string; name: string; status: string; size: number }> };
    const members = async (name: string): Promise<string[]> => {
      const audience = audiences.items.find((a) => a.name === name);
      const page = (await (await fetch(`http://127.0.0.1:${ports.ENGAGE_PORT}/v1/audiences/${audience?.id}/members`, auth)).json()) as { items: Array<{ userId: string }> };
      return page.items.map((m) => m.userId).sort();
    };
    expect(audiences.items.map((a) => a.status)).toEqual(['ready', 'ready']);
    // The demo broadcast landed in the local inbox: one mail to each pro user.
    const mails = (await (await fetch(`http://127.0.0.1:${ports.ENGAGE_PORT}/v1/local/outbox?channel=email`, auth)).json()) as { items: unknown[] };
    const text = JSON.stringify(mails.items);
    expect(text).toContain('ada@example.com');
    expect(text).toContain('Three tips for Ada');
    expect(await members('Pro plan')).toEqual(['demo-ada', 'demo-katherine']);
    expect(await members('Abandoned a cart this week')).toEqual(['demo-ada', 'demo-grace']);
    // The demo journey took the three carts (every_event by cartId) and is running them.
    const journeys = (await (await fetch(`http://127.0.0.1:${ports.ENGAGE_PORT}/v1/journeys`, auth)).json()) as { items: Array<{ id: string; status: string }> };
    expect(journeys.items).toEqual([expect.objectContaining({ status: 'live' })]);
    const journey = (await (await fetch(`http://127.0.0.1:${ports.ENGAGE_PORT}/v1/journeys/${journeys.items[0]?.id}`, auth)).json()) as { counts: { entered: number } };
    expect(journey.counts.entered).toBe(3);
    const runs = (await (await fetch(`http://127.0.0.1:${ports.ENGAGE_PORT}/v1/journeys/${journeys.items[0]?.id}/executions?userId=demo-ada`, auth)).json()) as { items: Array<{ status: string }> };
    expect(runs.items).toEqual([expect.objectContaining({ status: 'running' })]);
    expect(await stop(started)).toBe(0);
  });
});

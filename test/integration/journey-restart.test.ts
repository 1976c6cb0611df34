import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestEngine, type TestEngine } from '../helpers/engine';

/** `npm start` with ENGAGE_DATA_DIR: published journeys survive a restart; runs in flight (in memory) are ended honestly. */
describe('journeys across a local restart', () => {
  let dataDir: string;
  let engine: TestEngine | undefined;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'engage-journeys-'));
  });

  afterAll(async () => {
    await engine?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps published versions, ends the lost runs as failed, frees their slots and takes entries again', async () => {
    // Prepare
    engine = await startTestEngine({ dataDir, recheckIntervalMs: 0 });
    await engine.ingest('/v1/identify', { userId: 'restarted', traits: { email: 'restarted@example.com' } });
    const created = await engine.api('POST', '/v1/journeys', { name: 'Long', entry: { event: 'Never' }, reentry: { mode: 'after_exit' }, start: 'a', steps: { a: { type: 'wait', duration: 'P300D', next: null } } });
    expect((await engine.api('POST', `/v1/journeys/${created.body.id}/publish`)).status).toBe(200);
    expect((await engine.api('POST', `/v1/journeys/${created.body.id}/entries`, { userId: 'restarted' })).status).toBe(202);
    await engine.settle();
    await engine.close();

    // Act
    engine = await startTestEngine({ dataDir, recheckIntervalMs: 0 });
    await engine.settle();

    // Assess
    const runs = await engine.api('GET', `/v1/journeys/${created.body.id}/executions?userId=restarted`);
    expect(runs.body.items).toEqual([expect.objectContaining({ status: 'failed', exitReason: 'local engine restarted' })]);
    expect((await engine.api('GET', `/v1/journeys/${created.body.id}`)).body.counts).toMatchObject({ entered: 1, active: 0, failed: 1 });
    const again = await engine.api('POST', `/v1/journeys/${created.body.id}/entries`, { userId: 'restarted' });
    expect(again.status).toBe(202);
    expect(engine.workflows.executions()).toEqual([expect.objectContaining({ status: 'running', version: 1 })]);
  });
});

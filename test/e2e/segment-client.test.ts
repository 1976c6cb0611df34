import { Analytics } from '@segment/analytics-node';
import { startTestEngine, WRITE_KEY, type TestEngine } from '../helpers/engine';

let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine();
});

afterAll(async () => {
  await engine.close();
});

describe('the real Segment client against the local runtime', () => {
  it('identifies, tracks and pages, then the profile reads back', async () => {
    // Prepare
    const analytics = new Analytics({ writeKey: WRITE_KEY, host: engine.url, flushAt: 10, flushInterval: 200, maxRetries: 1 });
    const failures: unknown[] = [];
    analytics.on('error', (error) => failures.push(error));
    const userId = `segment-${Date.now().toString(36)}`;
    const anonymousId = `anon-${userId}`;
    // Act
    analytics.page({ anonymousId, name: 'Landing', properties: { path: '/' } });
    analytics.identify({ userId, anonymousId, traits: { email: 'segment@example.com', firstName: 'Seg', timezone: 'Europe/Paris' } });
    analytics.track({ userId, event: 'Order Completed', properties: { orderId: 'o-1', total: 99.5 } });
    analytics.page({ userId, category: 'Docs', name: 'Getting started' });
    await analytics.closeAndFlush({ timeout: 10_000 });
    await engine.settle();
    // Assess
    expect(failures).toEqual([]);
    const profile = await engine.api('GET', `/v1/profiles/${userId}`);
    expect(profile.status).toBe(200);
    expect(profile.body.traits).toEqual({ email: 'segment@example.com', firstName: 'Seg', timezone: 'Europe/Paris' });
    const events = await engine.api('GET', `/v1/profiles/${userId}/events`);
    const byName = new Map(events.body.items.map((e: { event: string | null; type: string }) => [e.event ?? e.type, e]));
    expect(byName.get('Order Completed')).toMatchObject({ type: 'track', properties: { orderId: 'o-1', total: 99.5 } });
    expect(byName.get('identify')).toMatchObject({ type: 'identify' });
    // The anonymous page view was merged into the user when the client identified.
    const pages = events.body.items.filter((e: { event: string | null }) => e.event === 'Page Viewed');
    expect(pages.map((p: { properties: { name: string } }) => p.properties.name).sort()).toEqual(['Getting started', 'Landing']);
  });

  it('reports a wrong write key as an error and stores nothing', async () => {
    const before = await engine.snapshot();
    const analytics = new Analytics({ writeKey: 'not-the-key', host: engine.url, flushAt: 1, maxRetries: 0 });
    const failures: unknown[] = [];
    analytics.on('error', (error) => failures.push(error));
    analytics.track({ userId: 'intruder', event: 'X' });
    await analytics.closeAndFlush({ timeout: 5_000 });
    expect(failures.length).toBeGreaterThan(0);
    expect(await engine.snapshot()).toEqual(before);
  });
});

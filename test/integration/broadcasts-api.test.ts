import type { ProfileRef } from '../../shared/domain/profile/profile';
import type { SendRecordKey } from '../../shared/ports';
import { startTestEngine, type TestEngine } from '../helpers/engine';

let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine({ recheckIntervalMs: 500 });
});

afterEach(() => {
  expect(engine.dynamo.onFailure()).toEqual([]);
});

afterAll(async () => {
  await engine.close();
});

let n = 0;
const uid = (prefix: string) => `${prefix}-${++n}-${Math.random().toString(36).slice(2, 7)}`;

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last value: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function audienceOf(tag: string): Promise<string> {
  const r = await engine.api('POST', '/v1/audiences', { name: `Tag ${tag}`, rule: { trait: 'tag', op: 'eq', value: tag } });
  expect(r.status).toBe(201);
  await engine.settle();
  return r.body.id as string;
}

async function emailTemplate(): Promise<string> {
  const r = await engine.api('POST', '/v1/templates', {
    name: 'Welcome',
    channel: 'email',
    subject: 'Hello {{ traits.firstName | default: "there" }}',
    html: '<p>Hi {{ traits.firstName | default: "there" }}!</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
  });
  expect(r.status).toBe(201);
  return r.body.id as string;
}

async function mailsTo(address: string): Promise<number> {
  return (await engine.ses.store()).filter((m) => JSON.stringify(m).includes(address)).length;
}

async function waitSent(broadcastId: string): Promise<Record<string, any>> {
  const r = await until(
    () => engine.api('GET', `/v1/broadcasts/${broadcastId}`),
    (x) => x.body.status === 'sent',
  );
  return r.body;
}

describe('templates', () => {
  it('refuses a template that does not parse, naming the field and line, and stores nothing', async () => {
    const before = await engine.snapshot();
    const r = await engine.api('POST', '/v1/templates', { name: 'Bad', channel: 'email', subject: 'Hi', html: '<p>\n{% iff x %}\n</p>' });
    expect(r.status).toBe(400);
    expect(r.body.error.issues[0]).toMatchObject({ path: 'html', message: expect.stringMatching(/line 2/) });
    expect(await engine.snapshot()).toEqual(before);
  });

  it('renders for traits and for a stored profile; SMS reports segments', async () => {
    const id = await emailTemplate();
    const byTraits = await engine.api('POST', `/v1/templates/${id}/render`, { traits: { firstName: '<b>Ada</b>' } });
    expect(byTraits.status).toBe(200);
    expect(byTraits.body.subject).toBe('Hello <b>Ada</b>');
    expect(byTraits.body.html).toContain('Hi &lt;b&gt;Ada&lt;/b&gt;!');
    expect(byTraits.body.text).toContain('Hi <b>Ada</b>!');
    const userId = uid('render');
    await engine.ingest('/v1/identify', { userId, traits: { firstName: 'Grace' } });
    expect((await engine.api('POST', `/v1/templates/${id}/render`, { userId })).body.subject).toBe('Hello Grace');
    const sms = await engine.api('POST', '/v1/templates', { name: 'SMS', channel: 'sms', body: 'Hi {{ traits.firstName }} — 20% off €' });
    const rendered = await engine.api('POST', `/v1/templates/${sms.body.id}/render`, { traits: { firstName: 'Ada' } });
    expect(rendered.body).toMatchObject({ body: 'Hi Ada — 20% off €', segments: 1, encoding: 'UCS-2' });
  });
});

describe('a broadcast', () => {
  it('reaches every reachable member once, skips and counts the others, and finishes as sent', async () => {
    // Prepare: four members: reachable, unsubscribed, without an address, suppressed.
    const tag = uid('tag');
    const [ok, unsub, noAddress, bounced] = [uid('ok'), uid('unsub'), uid('noaddr'), uid('bounce')];
    const okEmail = `${ok}@example.com`;
    await engine.ingest('/v1/identify', { userId: ok, traits: { tag, email: okEmail, firstName: 'Ok' } });
    await engine.ingest('/v1/identify', { userId: unsub, traits: { tag, email: `${unsub}@example.com` } });
    await engine.ingest('/v1/identify', { userId: noAddress, traits: { tag } });
    await engine.ingest('/v1/identify', { userId: bounced, traits: { tag, email: 'bounce@simulator.amazonses.com' } });
    await engine.api('PUT', `/v1/profiles/${unsub}/subscriptions`, { email: 'unsubscribed' });
    const audience = await audienceOf(tag);
    const template = await emailTemplate();
    // A first broadcast bounces, which suppresses the address.
    const first = await engine.api('POST', '/v1/broadcasts', { name: 'First', audience, template });
    expect(first.status).toBe(201);
    const firstDone = await waitSent(first.body.id);
    expect(firstDone.counts).toMatchObject({ recipients: 4, sent: 2, skipped: { unsubscribed: 1, suppressed: 0, noAddress: 1 }, failed: 0 });
    await until(() => engine.api('GET', `/v1/broadcasts/${first.body.id}`), (r) => r.body.counts.bounced === 1);
    // Act
    const second = await engine.api('POST', '/v1/broadcasts', { name: 'Second', audience, template });
    const done = await waitSent(second.body.id);
    // Assess
    expect(done.counts).toMatchObject({ recipients: 4, sent: 1, skipped: { unsubscribed: 1, suppressed: 1, noAddress: 1 }, failed: 0 });
    expect(done.counts.recipients).toBe(done.counts.sent + done.counts.failed + done.counts.skipped.unsubscribed + done.counts.skipped.suppressed + done.counts.skipped.noAddress);
    expect(await mailsTo(okEmail)).toBe(2);
    const messages = await until(() => engine.api('GET', `/v1/profiles/${ok}/messages`), (r) => r.body.items.length === 2 && r.body.items.every((m: { status: string }) => m.status === 'delivered'));
    expect(messages.body.items[0]).toMatchObject({ channel: 'email', templateId: template, broadcastId: second.body.id, status: 'delivered' });
    const statuses = engine.bus.recent(1000, { detailType: 'Broadcast Status Changed' }).filter((e) => e.detail.broadcastId === second.body.id).map((e) => e.detail.status);
    expect(statuses).toEqual(['scheduled', 'sending', 'sent']);
    expect(engine.bus.recent(1000, { detailType: 'Message Delivered' }).some((e) => e.detail.userId === ok)).toBe(true);
  });

  it('carries one-click unsubscribe headers whose signed link works, and refuses a forged token', async () => {
    // Prepare
    const tag = uid('tag');
    const userId = uid('unsub-link');
    const email = `${userId}@example.com`;
    await engine.ingest('/v1/identify', { userId, traits: { tag, email } });
    const audience = await audienceOf(tag);
    const broadcast = await engine.api('POST', '/v1/broadcasts', { name: 'Links', audience, template: await emailTemplate() });
    await waitSent(broadcast.body.id);
    const mail = (await engine.ses.store()).find((m) => JSON.stringify(m).includes(email));
    const raw = JSON.stringify(mail);
    expect(raw).toContain('List-Unsubscribe-Post');
    expect(raw).toContain('List-Unsubscribe=One-Click');
    const link = /(http:\/\/[^"<>\s\\]+\/v1\/unsubscribe\?token=[A-Za-z0-9_.%-]+)/.exec(raw)?.[1] ?? '';
    expect(link).not.toBe('');
    const path = link.slice(engine.url.length);
    // Act + Assess: the page changes nothing; a forged token is refused; POST unsubscribes.
    const pageView = await fetch(`${engine.url}${path}`);
    expect(pageView.status).toBe(200);
    expect((await engine.api('GET', `/v1/profiles/${userId}`)).body.subscriptions.email).toBe('subscribed');
    // Another user's id in the signed payload, with the original signature.
    const token = decodeURIComponent(path.slice(path.indexOf('token=') + 6));
    const [payload, mac] = token.split('.');
    const altered = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()), userId: 'someone-else' })).toString('base64url');
    const forged = `/v1/unsubscribe?token=${encodeURIComponent(`${altered}.${mac ?? ''}`)}`;
    const before = await engine.snapshot();
    expect((await fetch(`${engine.url}${forged}`, { method: 'POST' })).status).toBe(400);
    expect(await engine.snapshot()).toEqual(before);
    const oneClick = await fetch(`${engine.url}${path}`, { method: 'POST', body: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(oneClick.status).toBe(200);
    expect((await engine.api('GET', `/v1/profiles/${userId}`)).body.subscriptions.email).toBe('unsubscribed');
  });

  it('is sent to the snapshot only: a member joining after the start gets nothing', async () => {
    const tag = uid('tag');
    const early = uid('early');
    await engine.ingest('/v1/identify', { userId: early, traits: { tag, email: `${early}@example.com` } });
    const audience = await audienceOf(tag);
    const broadcast = await engine.api('POST', '/v1/broadcasts', { name: 'Snapshot', audience, template: await emailTemplate() });
    const late = uid('late');
    await engine.ingest('/v1/identify', { userId: late, traits: { tag, email: `${late}@example.com` } });
    const done = await waitSent(broadcast.body.id);
    await engine.settle();
    expect(done.counts.recipients).toBe(1);
    expect(await mailsTo(`${early}@example.com`)).toBe(1);
    expect(await mailsTo(`${late}@example.com`)).toBe(0);
  });

  it('sends SMS to the local outbox', async () => {
    const tag = uid('tag');
    const userId = uid('sms');
    await engine.ingest('/v1/identify', { userId, traits: { tag, phone: '+14155550199', firstName: 'Sam' } });
    const audience = await audienceOf(tag);
    const template = await engine.api('POST', '/v1/templates', { name: 'SMS', channel: 'sms', body: 'Hi {{ traits.firstName }}' });
    const broadcast = await engine.api('POST', '/v1/broadcasts', { name: 'SMS', audience, template: template.body.id });
    await waitSent(broadcast.body.id);
    const outbox = await engine.api('GET', '/v1/local/outbox?channel=sms');
    expect(outbox.body.items.filter((m: { to: string }) => m.to === '+14155550199').map((m: { body: string }) => m.body)).toEqual(['Hi Sam']);
    // Carrier feedback: the message is delivered and counted.
    const done = await until(() => engine.api('GET', `/v1/broadcasts/${broadcast.body.id}`), (r) => r.body.counts.delivered === 1);
    expect(done.body.counts).toMatchObject({ recipients: 1, sent: 1, delivered: 1 });
  });

  it('ends as failed when the provider refuses every recipient', async () => {
    const tag = uid('tag');
    const userId = uid('refused');
    await engine.ingest('/v1/identify', { userId, traits: { tag, phone: '+14155550142' } });
    const audience = await audienceOf(tag);
    const template = await engine.api('POST', '/v1/templates', { name: 'SMS', channel: 'sms', body: 'Hello' });
    engine.smsOutbox.failNext(1, 'permanent');
    const broadcast = await engine.api('POST', '/v1/broadcasts', { name: 'Refused', audience, template: template.body.id });
    const done = await until(() => engine.api('GET', `/v1/broadcasts/${broadcast.body.id}`), (r) => r.body.status !== 'sending');
    expect(done.body).toMatchObject({ status: 'failed', counts: { recipients: 1, sent: 0, failed: 1 } });
    expect((await engine.api('GET', `/v1/profiles/${userId}/messages`)).body.items[0]).toMatchObject({ status: 'failed' });
  });

  it('is scheduled, can be cancelled before it starts, and then 409s further changes', async () => {
    const tag = uid('tag');
    const audience = await audienceOf(tag);
    const sendAt = new Date(Date.now() + 3_600_000).toISOString();
    const created = await engine.api('POST', '/v1/broadcasts', { name: 'Later', audience, template: await emailTemplate(), sendAt });
    expect(created.body).toMatchObject({ status: 'scheduled', sendAt });
    expect(engine.scheduler.list().some((s) => JSON.stringify(s).includes(created.body.id))).toBe(true);
    expect((await engine.api('DELETE', `/v1/audiences/${audience}`)).status).toBe(409);
    const cancelled = await engine.api('POST', `/v1/broadcasts/${created.body.id}/cancel`);
    expect(cancelled.body.status).toBe('cancelled');
    expect(engine.scheduler.list().some((s) => JSON.stringify(s).includes(created.body.id))).toBe(false);
    expect((await engine.api('POST', `/v1/broadcasts/${created.body.id}/cancel`)).status).toBe(409);
    expect((await engine.api('PUT', `/v1/broadcasts/${created.body.id}`, { name: 'Renamed' })).status).toBe(409);
    // No longer in use: the audience can go.
    expect((await engine.api('DELETE', `/v1/audiences/${audience}`)).status).toBe(204);
  });

  it.each([
    ['an unknown audience', (a: string, t: string) => ({ name: 'x', audience: 'aud_nope', template: t, _a: a }), 'audience'],
    ['an unknown template', (a: string) => ({ name: 'x', audience: a, template: 'tpl_nope' }), 'template'],
    ['a past sendAt', (a: string, t: string) => ({ name: 'x', audience: a, template: t, sendAt: '2020-01-01T00:00:00Z' }), 'sendAt'],
    ['localTime without sendAt', (a: string, t: string) => ({ name: 'x', audience: a, template: t, localTime: true }), 'localTime'],
    ['a bad rate', (a: string, t: string) => ({ name: 'x', audience: a, template: t, rateLimitPerSecond: 0 }), 'rateLimitPerSecond'],
  ])('refuses %s with 400 naming the field, storing nothing', async (_name, body, path) => {
    const audience = await audienceOf(uid('tag'));
    const template = await emailTemplate();
    await engine.settle();
    const before = await engine.snapshot();
    const payload = body(audience, template) as Record<string, unknown>;
    delete payload._a;
    const r = await engine.api('POST', '/v1/broadcasts', payload);
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body.error)).toContain(path);
    expect(await engine.snapshot()).toEqual(before);
  });

  it('test-sends to given addresses without counting them', async () => {
    const audience = await audienceOf(uid('tag'));
    const broadcast = await engine.api('POST', '/v1/broadcasts', { name: 'T', audience, template: await emailTemplate(), sendAt: new Date(Date.now() + 3_600_000).toISOString() });
    const r = await engine.api('POST', `/v1/broadcasts/${broadcast.body.id}/test`, { to: ['qa@example.com'] });
    expect(r).toEqual({ status: 200, body: { sent: 1 } });
    expect((await engine.ses.store()).some((m) => JSON.stringify(m).includes('[Test] Hello there'))).toBe(true);
    expect((await engine.api('POST', `/v1/broadcasts/${broadcast.body.id}/test`, { to: ['not-an-address'] })).status).toBe(400);
  });
});

describe('pacing, local time and cancelling mid-send', () => {
  async function members(count: number, traits: (i: number) => Record<string, unknown> = () => ({})): Promise<{ audience: string; emails: string[] }> {
    const tag = uid('tag');
    const users = Array.from({ length: count }, () => uid('pace'));
    await engine.ingest('/v1/batch', { batch: users.map((userId, i) => ({ type: 'identify', userId, traits: { tag, email: `${userId}@example.com`, ...traits(i) } })) });
    return { audience: await audienceOf(tag), emails: users.map((u) => `${u}@example.com`) };
  }

  it('honours rateLimitPerSecond: never more than that many sends in one second', async () => {
    const { audience, emails } = await members(6);
    const broadcast = await engine.api('POST', '/v1/broadcasts', { name: 'Paced', audience, template: await emailTemplate(), rateLimitPerSecond: 2 });
    const done = await waitSent(broadcast.body.id);
    expect(done.counts.sent).toBe(6);
    // Each message's sentAt is the moment its sender took a rate slot: at most 2 per second,
    // so 6 messages span at least 3 seconds.
    const sentAt = await Promise.all(
      emails.map(async (email) => {
        const userId = email.slice(0, email.indexOf('@'));
        const log = await engine.api('GET', `/v1/profiles/${userId}/messages`);
        return Date.parse(log.body.items.find((m: { broadcastId: string }) => m.broadcastId === broadcast.body.id).sentAt);
      }),
    );
    const perSecond = new Map<number, number>();
    for (const t of sentAt) perSecond.set(Math.floor(t / 1000), (perSecond.get(Math.floor(t / 1000)) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(2);
    expect(perSecond.size).toBeGreaterThanOrEqual(3);
  });

  it('with localTime, sends at sendAt’s wall-clock time in each recipient’s time zone', async () => {
    // Prepare: sendAt's wall clock is reached first at UTC+14 (already past), last in UTC (8 s from now).
    const { audience, emails } = await members(2, (i) => ({ timezone: i === 0 ? 'Pacific/Kiritimati' : 'UTC' }));
    const [kiritimati, utc] = emails;
    const sendAt = new Date(Math.ceil((Date.now() + 8_000) / 1000) * 1000).toISOString();
    // Act
    const broadcast = await engine.api('POST', '/v1/broadcasts', { name: 'Local time', audience, template: await emailTemplate(), sendAt, localTime: true });
    expect(broadcast.status).toBe(201);
    await until(() => mailsTo(kiritimati ?? ''), (n) => n === 1);
    // Assess
    expect(Date.now()).toBeLessThan(Date.parse(sendAt));
    expect(await mailsTo(utc ?? '')).toBe(0);
    await waitSent(broadcast.body.id);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(sendAt));
    expect(await mailsTo(utc ?? '')).toBe(1);
  });

  it('stops sending when cancelled mid-send', async () => {
    const { audience, emails } = await members(6);
    const broadcast = await engine.api('POST', '/v1/broadcasts', { name: 'Cancelled', audience, template: await emailTemplate(), rateLimitPerSecond: 1 });
    await until(() => Promise.all(emails.map(mailsTo)), (counts) => counts.some((c) => c > 0));
    const cancelled = await engine.api('POST', `/v1/broadcasts/${broadcast.body.id}/cancel`);
    expect(cancelled.body.status).toBe('cancelled');
    const atCancel = (await Promise.all(emails.map(mailsTo))).reduce((a, b) => a + b, 0);
    await new Promise((r) => setTimeout(r, 3_000));
    await engine.settle();
    const after = (await Promise.all(emails.map(mailsTo))).reduce((a, b) => a + b, 0);
    // A sender may trust the broadcast it read for up to a second: at 1 send per second, at most
    // two more can go out after the cancel; then nothing new starts.
    expect(after).toBeLessThanOrEqual(atCancel + 2);
    expect(after).toBeLessThan(6);
    expect((await engine.api('GET', `/v1/broadcasts/${broadcast.body.id}`)).body.status).toBe('cancelled');
  });
});

describe('fault injection', () => {
  it('delivers exactly one message to every reachable recipient when the provider fails 10% of calls and the sender dies after acceptance', async () => {
    // Prepare: 40 reachable members.
    const tag = uid('tag');
    const users = Array.from({ length: 40 }, () => uid('fi'));
    await engine.ingest('/v1/batch', { batch: users.map((userId) => ({ type: 'identify', userId, traits: { tag, email: `${userId}@example.com` } })) });
    const audience = await audienceOf(tag);
    const template = await emailTemplate();
    const mailer = engine.services.mailer;
    const realSend = mailer.sendEmail.bind(mailer);
    let calls = 0;
    const failing = jest.spyOn(mailer, 'sendEmail').mockImplementation(async (message) => {
      calls++;
      if (calls % 10 === 3) throw new Error('provider unavailable (injected)');
      return realSend(message);
    });
    const finish = engine.services.sends.finish.bind(engine.services.sends);
    const crashed = new Set<string>();
    const dying = jest.spyOn(engine.services.sends, 'finish').mockImplementation(async (key: SendRecordKey, messageId, change) => {
      const id = (key.ref as ProfileRef).id;
      // The sender "dies" after the provider accepted, before recording, for every 7th recipient once.
      if (change.status === 'sent' && users.indexOf(id) % 7 === 0 && !crashed.has(id)) {
        crashed.add(id);
        throw new Error('sender died (injected)');
      }
      return finish(key, messageId, change);
    });
    const silence = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      // Act
      const broadcast = await engine.api('POST', '/v1/broadcasts', { name: 'Faulty', audience, template });
      const done = await waitSent(broadcast.body.id);
      // Assess
      expect(crashed.size).toBeGreaterThan(0);
      expect(done.counts).toMatchObject({ recipients: 40, sent: 40, failed: 0 });
      for (const userId of users) expect(await mailsTo(`${userId}@example.com`)).toBe(1);
    } finally {
      failing.mockRestore();
      dying.mockRestore();
      silence.mockRestore();
    }
  });
});

import { startTestEngine, type TestEngine } from '../helpers/engine';

/**
 * Journeys end to end on the local engine, over HTTP: publish → entries from the stream →
 * aws-local-stepfunctions runs (a day of waiting lasts 50 ms) → sends through the pipeline →
 * run items, counts, executions and the `Journey *` events.
 */

const TIME_SCALE = 86_400 * 20; // a day in 50 ms; a P1D hold times out after ~1 s (1 s minimum locally)
let engine: TestEngine;
let seq = 0;

beforeAll(async () => {
  engine = await startTestEngine({ timeScale: TIME_SCALE, recheckIntervalMs: 0 });
});

afterAll(async () => {
  await engine?.close();
});

function unique(prefix: string): string {
  seq++;
  return `${prefix}_${seq}_${Date.now().toString(36)}`;
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last value: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function emailTemplate(subject = 'Your cart {{ entry.properties.cartId }}'): Promise<string> {
  const response = await engine.api('POST', '/v1/templates', { name: unique('Cart reminder'), channel: 'email', subject, html: '<p>Hi {{ traits.firstName | default: "there" }}</p>' });
  expect(response.status).toBe(201);
  return response.body.id as string;
}

async function user(traits: Record<string, unknown> = {}): Promise<string> {
  const id = unique('u');
  await engine.ingest('/v1/identify', { userId: id, traits: { email: `${id}@example.com`, ...traits } });
  return id;
}

async function track(userId: string, event: string, properties: Record<string, unknown> = {}, messageId?: string): Promise<void> {
  const response = await engine.ingest('/v1/track', { userId, event, properties, ...(messageId ? { messageId } : {}) });
  expect(response.status).toBe(200);
}

async function publish(definition: Record<string, unknown>): Promise<string> {
  const created = await engine.api('POST', '/v1/journeys', definition);
  expect(created.status).toBe(201);
  const published = await engine.api('POST', `/v1/journeys/${created.body.id}/publish`);
  expect(published.status).toBe(200);
  // The stream reads journeys from a short cache: let it see the new one.
  await engine.settle();
  return created.body.id as string;
}

async function executions(journeyId: string, userId: string): Promise<Array<Record<string, any>>> {
  const response = await engine.api('GET', `/v1/journeys/${journeyId}/executions?userId=${encodeURIComponent(userId)}`);
  expect(response.status).toBe(200);
  return response.body.items as Array<Record<string, any>>;
}

async function runsEnded(journeyId: string, userId: string, count = 1): Promise<Array<Record<string, any>>> {
  return until(
    async () => {
      await engine.settle();
      return executions(journeyId, userId);
    },
    (items) => items.length >= count && items.every((item) => item.status !== 'running'),
  );
}

async function mailsTo(address: string): Promise<Array<Record<string, any>>> {
  return (await engine.ses.store()).filter((m) => JSON.stringify(m).includes(address)) as Array<Record<string, any>>;
}

async function counts(journeyId: string): Promise<Record<string, any>> {
  await engine.settle();
  return (await engine.api('GET', `/v1/journeys/${journeyId}`)).body.counts as Record<string, any>;
}

describe('journeys over the HTTP API', () => {
  describe('defining and publishing', () => {
    it('refuses a malformed draft with a 400 naming the field, storing nothing', async () => {
      // Prepare
      const before = await engine.snapshot();
      // Act
      const response = await engine.api('POST', '/v1/journeys', { name: 'Bad', entry: { event: 'X' }, start: 'a', steps: { a: { type: 'wait', duration: 'three days', next: null } } });
      // Assess
      expect(response.status).toBe(400);
      expect(JSON.stringify(response.body.error.issues)).toContain('steps.a.duration');
      expect(await engine.snapshot()).toEqual(before);
    });

    it('refuses to publish an unsound graph or unknown template with a 400 naming the step, and publishes nothing', async () => {
      // Prepare
      const created = await engine.api('POST', '/v1/journeys', {
        name: 'Broken',
        entry: { event: 'Signed Up' },
        start: 'a',
        steps: { a: { type: 'send', channel: 'email', template: 'tpl_missing', next: 'nowhere' }, orphan: { type: 'exit' } },
      });
      expect(created.status).toBe(201);
      // Act
      const response = await engine.api('POST', `/v1/journeys/${created.body.id}/publish`);
      // Assess
      expect(response.status).toBe(400);
      const paths = (response.body.error.issues as Array<{ path: string }>).map((i) => i.path);
      expect(paths).toEqual(expect.arrayContaining(['steps.a.next', 'steps.orphan', 'steps.a.template']));
      const after = await engine.api('GET', `/v1/journeys/${created.body.id}`);
      expect(after.body).toMatchObject({ status: 'draft', liveVersion: null, stateMachineArn: null, versions: [] });
      expect((await engine.api('GET', `/v1/journeys/${created.body.id}/definition.asl.json`)).status).toBe(404);
    });

    it('publishes a live version whose ASL is served, with readable state names', async () => {
      // Prepare
      const template = await emailTemplate();
      // Act
      const id = await publish({
        name: 'Welcome',
        entry: { event: unique('Signed Up') },
        start: 'wait',
        steps: { wait: { type: 'wait', duration: 'P3D', next: 'mail' }, mail: { type: 'send', channel: 'email', template, next: null } },
      });
      // Assess
      const journey = await engine.api('GET', `/v1/journeys/${id}`);
      expect(journey.body).toMatchObject({ status: 'live', liveVersion: 1, versions: [{ version: 1, live: true }] });
      expect(journey.body.stateMachineArn).toMatch(/^arn:aws:states:local:000000000000:stateMachine:engage-jrn_/);
      const asl = await engine.api('GET', `/v1/journeys/${id}/definition.asl.json`);
      expect(asl.status).toBe(200);
      expect(Object.keys(asl.body.States)).toEqual(expect.arrayContaining(['Wait 3 days', expect.stringMatching(/^Send email: Cart reminder/)]));
    });

    it("refuses a definition too large to store (413), and one whose state machine would exceed Step Functions' 1 MB (400)", async () => {
      // Prepare: 130 branches of five outcomes, each followed by a send (about 70 KB of JSON, over 1 MB of ASL).
      const template = await emailTemplate();
      const pairs = (count: number, rule: unknown): Record<string, unknown> => {
        const steps: Record<string, unknown> = {};
        for (let i = 0; i < count; i++) {
          steps[`b${i}`] = { type: 'branch', branches: [1, 2, 3, 4, 5].map((k) => ({ name: `Branch ${k}`, rule, next: `s${i}` })), default: `s${i}` };
          steps[`s${i}`] = { type: 'send', channel: 'email', template, next: i < count - 1 ? `b${i + 1}` : null };
        }
        return { name: 'Huge', entry: { event: 'Huge' }, start: 'b0', steps };
      };
      const before = await engine.snapshot();

      // Act
      const tooLarge = await engine.api('POST', '/v1/journeys', pairs(250, { any: Array.from({ length: 5 }, (_, i) => ({ trait: `t${i}`, op: 'eq', value: 'x'.repeat(40) })) }));
      const unchanged = await engine.snapshot();
      const created = await engine.api('POST', '/v1/journeys', pairs(130, { trait: 'plan', op: 'eq', value: 'gold' }));
      const published = await engine.api('POST', `/v1/journeys/${created.body.id}/publish`);

      // Assess
      expect(tooLarge.status).toBe(413);
      expect(tooLarge.body.error.message).toContain('at most 100000');
      expect(unchanged).toEqual(before);
      expect(created.status).toBe(201);
      expect(published.status).toBe(400);
      expect(published.body.error.issues).toEqual([{ path: 'steps', message: expect.stringContaining("over Step Functions' limit") }]);
      expect((await engine.api('GET', `/v1/journeys/${created.body.id}`)).body.status).toBe('draft');
    });

    it('serves the ASL of a large journey, stored compressed', async () => {
      // Prepare: 200 steps with recording are some 365 KB of ASL, near DynamoDB's 400 KB item limit.
      const template = await emailTemplate();
      const steps: Record<string, unknown> = {};
      for (let i = 0; i < 100; i++) {
        steps[`w${i}`] = { type: 'wait', duration: 'PT1M', next: `s${i}` };
        steps[`s${i}`] = { type: 'send', channel: 'email', template, next: i < 99 ? `w${i + 1}` : null };
      }
      const id = await publish({ name: 'Long', entry: { event: unique('Long') }, start: 'w0', steps });
      // Act
      const asl = await engine.api('GET', `/v1/journeys/${id}/definition.asl.json`);
      // Assess
      expect(asl.status).toBe(200);
      expect(Object.keys(asl.body.States).length).toBeGreaterThan(300);
    });

    it('answers 404 for an unknown journey and 400 for executions without userId', async () => {
      expect((await engine.api('GET', '/v1/journeys/jrn_nope')).status).toBe(404);
      expect((await engine.api('POST', '/v1/journeys/jrn_nope/publish')).status).toBe(404);
      const id = (await engine.api('POST', '/v1/journeys', { name: 'Q', entry: { event: 'Q' }, start: 'a', steps: { a: { type: 'exit' } } })).body.id as string;
      const response = await engine.api('GET', `/v1/journeys/${id}/executions`);
      expect(response.status).toBe(400);
      expect(JSON.stringify(response.body)).toContain('userId');
    });
  });

  describe('runs', () => {
    it('enters on the event, waits, sends with the entry properties, completes, and counts and publishes it all', async () => {
      // Prepare
      const template = await emailTemplate();
      const event = unique('Cart Abandoned');
      const id = await publish({
        name: 'Abandoned cart',
        entry: { event, where: [{ property: 'total', op: 'gte', value: 20 }] },
        start: 'wait',
        steps: { wait: { type: 'wait', duration: 'P1D', next: 'mail' }, mail: { type: 'send', channel: 'email', template, next: null } },
      });
      const buyer = await user({ firstName: 'Ada' });
      const small = await user();

      // Act
      await track(buyer, event, { cartId: 'c_42', total: 30 });
      await track(small, event, { cartId: 'c_1', total: 5 });
      const [run] = await runsEnded(id, buyer);

      // Assess
      expect(run).toMatchObject({ version: 1, status: 'completed', currentStep: 'mail' });
      expect(await executions(id, small)).toEqual([]);
      const mails = await until(() => mailsTo(`${buyer}@example.com`), (m) => m.length === 1);
      expect(JSON.stringify(mails[0])).toContain('Your cart c_42');
      expect(await counts(id)).toMatchObject({ entered: 1, active: 0, completed: 1, exitedEarly: 0, steps: { wait: { reached: 1 }, mail: { reached: 1 } } });
      const types = ['Journey Entered', 'Journey Step Reached', 'Journey Completed', 'Journey Exited'].flatMap((type) =>
        engine.bus
          .recent(1000, { detailType: type })
          .filter((e) => e.detail.journeyId === id)
          .map((e) => `${type}${e.detail.stepId ? `:${String(e.detail.stepId)}` : ''}`),
      );
      expect(types).toEqual(expect.arrayContaining(['Journey Entered', 'Journey Step Reached:wait', 'Journey Step Reached:mail', 'Journey Completed']));
      expect(types.filter((t) => t === 'Journey Entered')).toHaveLength(1);
    });

    it('never lets a user in twice, keys every_event runs by the key, and starts one run for duplicate triggers', async () => {
      // Prepare
      const event = unique('Viewed');
      const exitStep = { a: { type: 'wait', duration: 'PT1H', next: null } };
      const once = await publish({ name: 'Once', entry: { event }, start: 'a', steps: exitStep });
      const perCart = await publish({ name: 'Per cart', entry: { event }, reentry: { mode: 'every_event', key: 'cartId' }, start: 'a', steps: exitStep });
      const someone = await user();

      // Act: two events at once for cart 1, one later for cart 2, and a redelivered message id.
      await Promise.all([track(someone, event, { cartId: 'c1' }), track(someone, event, { cartId: 'c1' })]);
      await track(someone, event, { cartId: 'c2' }, 'm-dup-1');
      await track(someone, event, { cartId: 'c2' }, 'm-dup-1');
      await engine.settle();

      // Assess
      expect(await runsEnded(once, someone)).toHaveLength(1);
      const carts = await runsEnded(perCart, someone, 2);
      expect(carts).toHaveLength(2);
      expect(new Set(carts.map((r) => r.executionName)).size).toBe(2);
      expect((await counts(perCart)).entered).toBe(2);
    });

    it('lets a user back in after_exit once the cooldown has passed', async () => {
      // Prepare
      const event = unique('Pinged');
      const id = await publish({ name: 'Again', entry: { event }, reentry: { mode: 'after_exit' }, start: 'a', steps: { a: { type: 'wait', duration: 'PT2H', next: null } } });
      const someone = await user();

      // Act
      await track(someone, event);
      await runsEnded(id, someone, 1);
      await track(someone, event);

      // Assess
      expect(await runsEnded(id, someone, 2)).toHaveLength(2);
    });

    it('stops a running run on the exit event and counts it as exited early', async () => {
      // Prepare
      const entryEvent = unique('Cart Abandoned');
      const exitEvent = unique('Order Completed');
      const template = await emailTemplate();
      const id = await publish({
        name: 'Exit on order',
        entry: { event: entryEvent },
        exit: { event: exitEvent },
        goal: { event: exitEvent, within: 'P14D' },
        start: 'wait',
        steps: { wait: { type: 'wait', duration: 'P300D', next: 'mail' }, mail: { type: 'send', channel: 'email', template, next: null } },
      });
      const someone = await user();
      await track(someone, entryEvent, { cartId: 'c9' });
      await until(() => executions(id, someone), (items) => items.length === 1 && items[0]?.currentStep === 'wait');

      // Act
      await track(someone, exitEvent, { cartId: 'c9' });
      const [run] = await runsEnded(id, someone);

      // Assess
      expect(run).toMatchObject({ status: 'exited', exitReason: 'exit event' });
      expect(run?.convertedAt).toBeDefined();
      expect(await counts(id)).toMatchObject({ entered: 1, active: 0, exitedEarly: 1, completed: 0, converted: 1 });
      expect(await mailsTo(`${someone}@example.com`)).toHaveLength(0);
      expect(engine.bus.recent(1000, { detailType: 'Journey Exited' }).some((e) => e.detail.journeyId === id && e.detail.userId === someone)).toBe(true);
    });

    it('resumes a hold on the matching event only, takes timeoutNext on timeout, and counts an event that came before the hold registered', async () => {
      // Prepare
      const entryEvent = unique('Cart Abandoned');
      const awaited = unique('Order Completed');
      const id = await publish({
        name: 'Hold',
        entry: { event: entryEvent },
        reentry: { mode: 'every_event', key: 'cartId' },
        start: 'pause',
        steps: {
          pause: { type: 'wait', duration: 'PT12H', next: 'hold' },
          hold: { type: 'hold_until', event: awaited, match: ['cartId'], timeout: 'P1D', next: 'thanks', timeoutNext: 'late' },
          thanks: { type: 'wait', duration: 'PT1M', next: null },
          late: { type: 'wait', duration: 'PT1M', next: null },
        },
      });
      const buyer = await user();
      const racer = await user();
      const idle = await user();

      // Act: buyer orders the wrong cart, then the right one, while held.
      await track(buyer, entryEvent, { cartId: 'right' });
      await until(() => executions(id, buyer), (items) => items[0]?.currentStep === 'hold');
      await track(buyer, awaited, { cartId: 'wrong' });
      await engine.settle();
      expect((await executions(id, buyer))[0]).toMatchObject({ status: 'running', currentStep: 'hold' });
      await track(buyer, awaited, { cartId: 'right' });
      // racer orders during the wait, before the hold registers.
      await track(racer, entryEvent, { cartId: 'r1' });
      await track(racer, awaited, { cartId: 'r1' });
      // idle never orders.
      await track(idle, entryEvent, { cartId: 'i1' });

      // Assess
      expect((await runsEnded(id, buyer))[0]).toMatchObject({ status: 'completed', currentStep: 'thanks' });
      expect((await runsEnded(id, racer))[0]).toMatchObject({ status: 'completed', currentStep: 'thanks' });
      expect((await runsEnded(id, idle))[0]).toMatchObject({ status: 'completed', currentStep: 'late' });
      expect((await counts(id)).steps).toMatchObject({ thanks: { reached: 2 }, late: { reached: 1 }, hold: { reached: 3 } });
    });

    it('enters audience members, stops their runs when they leave, and refuses to delete the audience while the journey is live', async () => {
      // Prepare
      const tag = unique('vip');
      const audience = await engine.api('POST', '/v1/audiences', { name: tag, rule: { trait: 'tier', op: 'eq', value: tag } });
      expect(audience.status).toBe(201);
      const id = await publish({
        name: 'VIP',
        entry: { audience: audience.body.id },
        exit: { onAudienceExit: true },
        start: 'wait',
        steps: { wait: { type: 'wait', duration: 'P300D', next: null } },
      });
      const vip = await user({ tier: tag });

      // Act
      await until(() => executions(id, vip), (items) => items[0]?.currentStep === 'wait');
      expect((await engine.api('DELETE', `/v1/audiences/${audience.body.id}`)).status).toBe(409);
      await engine.ingest('/v1/identify', { userId: vip, traits: { tier: 'none' } });

      // Assess
      expect((await runsEnded(id, vip))[0]).toMatchObject({ status: 'exited', exitReason: 'left the entry audience' });
      expect(await counts(id)).toMatchObject({ entered: 1, exitedEarly: 1 });
      expect((await engine.api('DELETE', `/v1/journeys/${id}`)).status).toBe(204);
      expect((await engine.api('GET', `/v1/journeys/${id}`)).body.status).toBe('archived');
      expect((await engine.api('DELETE', `/v1/audiences/${audience.body.id}`)).status).toBe(204);
    });

    it('keeps runs in flight on the version they entered while new entries take the new version', async () => {
      // Prepare
      const event = unique('Joined');
      const definition = { name: 'Versions', entry: { event }, reentry: { mode: 'every_event', key: 'n' }, start: 'a', steps: { a: { type: 'wait', duration: 'P10D', next: null } } };
      const id = await publish(definition);
      const someone = await user();
      await track(someone, event, { n: 1 });
      await until(() => executions(id, someone), (items) => items[0]?.currentStep === 'a');

      // Act
      expect((await engine.api('PUT', `/v1/journeys/${id}`, { ...definition, steps: { a: { type: 'wait', duration: 'PT1H', next: null } } })).status).toBe(200);
      expect((await engine.api('POST', `/v1/journeys/${id}/publish`)).body.liveVersion).toBe(2);
      await engine.settle();
      await new Promise((resolve) => setTimeout(resolve, 600)); // the stream's journey cache
      await track(someone, event, { n: 2 });
      const runs = await runsEnded(id, someone, 2);

      // Assess
      expect(runs.map((r) => r.version).sort()).toEqual([1, 2]);
      expect(runs.every((r) => r.status === 'completed')).toBe(true);
      expect((await engine.api('GET', `/v1/journeys/${id}`)).body.versions).toHaveLength(2);
    });

    it('branches on fresh profile data and records the branch and the variant taken', async () => {
      // Prepare
      const event = unique('Checked');
      const id = await publish({
        name: 'Branch and split',
        entry: { event },
        reentry: { mode: 'every_event', key: 'n' },
        start: 'check',
        steps: {
          check: { type: 'branch', branches: [{ name: 'Gold', rule: { trait: 'plan', op: 'eq', value: 'gold' }, next: 'split' }], default: null },
          split: { type: 'split', variants: [{ name: 'A', percent: 100, next: null }, { name: 'B', percent: 0, next: null }] },
        },
      });
      const gold = await user({ plan: 'gold' });
      const basic = await user({ plan: 'basic' });

      // Act
      await track(gold, event, { n: 1 });
      await track(basic, event, { n: 1 });
      await runsEnded(id, gold);
      await runsEnded(id, basic);

      // Assess
      expect((await counts(id)).steps).toEqual({
        check: { reached: 2, branches: { Gold: 1, default: 1 } },
        split: { reached: 1, variants: { A: 1 } },
      });
    });

    it("waits until the next wall-clock time in the user's zone, days shortened by the time scale", async () => {
      // Prepare
      const event = unique('Morning');
      const id = await publish({ name: 'Morning', entry: { event }, start: 'morning', steps: { morning: { type: 'wait_until', time: '09:00', timezone: 'user', weekdays: ['mon'], next: null } } });
      const someone = await user({ timezone: 'Asia/Tokyo' });

      // Act
      await track(someone, event);

      // Assess: at most a week of waiting, 350 ms here.
      expect((await runsEnded(id, someone))[0]).toMatchObject({ status: 'completed', currentStep: 'morning' });
    });

    it('enters by hand under the re-entry rule, and refuses what it must', async () => {
      // Prepare
      const id = await publish({ name: 'Manual', entry: { event: unique('Never sent') }, start: 'a', steps: { a: { type: 'wait', duration: 'PT1H', next: null } } });
      const someone = await user();

      // Act
      const first = await engine.api('POST', `/v1/journeys/${id}/entries`, { userId: someone });
      const second = await engine.api('POST', `/v1/journeys/${id}/entries`, { userId: someone });
      const unknown = await engine.api('POST', `/v1/journeys/${id}/entries`, { userId: 'nobody-here' });
      const invalid = await engine.api('POST', `/v1/journeys/${id}/entries`, { user: someone });

      // Assess
      expect(first.status).toBe(202);
      expect(first.body).toMatchObject({ version: 1, status: 'running' });
      expect(second.status).toBe(409);
      expect(unknown.status).toBe(404);
      expect(invalid.status).toBe(400);
      expect(await runsEnded(id, someone)).toHaveLength(1);
    });

    it('takes no entries while paused, and again once resumed', async () => {
      // Prepare
      const event = unique('Paused event');
      const id = await publish({ name: 'Pause', entry: { event }, reentry: { mode: 'every_event', key: 'n' }, start: 'a', steps: { a: { type: 'wait', duration: 'PT1H', next: null } } });
      const someone = await user();

      // Act
      expect((await engine.api('POST', `/v1/journeys/${id}/pause`)).body.status).toBe('paused');
      await engine.settle();
      await new Promise((resolve) => setTimeout(resolve, 600));
      await track(someone, event, { n: 1 });
      await engine.settle();
      const whilePaused = await executions(id, someone);
      expect((await engine.api('POST', `/v1/journeys/${id}/resume`)).body.status).toBe('live');
      await engine.settle();
      await new Promise((resolve) => setTimeout(resolve, 600));
      await track(someone, event, { n: 2 });

      // Assess
      expect(whilePaused).toEqual([]);
      expect(await runsEnded(id, someone)).toHaveLength(1);
    });

    it('stops the runs of an anonymous identity merged into a user when the user is erased', async () => {
      // Prepare
      const event = unique('Browsed');
      const id = await publish({ name: 'Anonymous', entry: { event }, start: 'a', steps: { a: { type: 'wait', duration: 'P300D', next: null } } });
      const anonymousId = unique('anon');
      const userId = unique('merged');
      await engine.ingest('/v1/track', { anonymousId, event });
      await until(
        async () => {
          await engine.settle();
          return engine.workflows.executions().filter((e) => e.journeyId === id);
        },
        (runs) => runs.length === 1 && runs[0]?.currentState === 'Wait 300 days',
      );
      await engine.ingest('/v1/identify', { anonymousId, userId, traits: { email: `${userId}@example.com` } });
      await engine.settle();

      // Act
      expect((await engine.api('DELETE', `/v1/profiles/${userId}`)).status).toBe(202);
      await engine.settle();

      // Assess
      expect(engine.workflows.executions().filter((e) => e.journeyId === id).map((e) => e.status)).toEqual(['aborted']);
    });

    it('stops a user\'s runs when the profile is erased', async () => {
      // Prepare
      const event = unique('Erase me');
      const id = await publish({ name: 'Erasure', entry: { event }, start: 'a', steps: { a: { type: 'wait', duration: 'P300D', next: null } } });
      const someone = await user();
      await track(someone, event);
      const [run] = await until(() => executions(id, someone), (items) => items[0]?.currentStep === 'a');

      // Act
      expect((await engine.api('DELETE', `/v1/profiles/${someone}`)).status).toBe(202);
      await engine.settle();

      // Assess
      const execution = [...engine.workflows.executions()].find((e) => e.name === run?.executionName);
      expect(execution?.status).toBe('aborted');
      expect(await executions(id, someone)).toEqual([]);
    });
  });
});

import type { SQSEvent } from 'aws-lambda';
import { handler as senderHandler } from '../../functions/sender/handler';
import { localLambdaContext } from '../../infra/local/lambda-context';
import { journeySendSk } from '../../shared/aws/dynamodb/keys';
import type { SendRecordKey } from '../../shared/ports';
import { startTestEngine, type TestEngine } from '../helpers/engine';

/**
 * Journey send steps through the messaging pipeline: the message a compiled send step puts on
 * the send queue (statemachines/steps/send.ts) is put on the local send queue here, and the
 * real sender, SES, SMS outbox and feedback handle it.
 */

let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine({ recheckIntervalMs: 0 });
});

afterEach(() => {
  expect(engine.dynamo.onFailure()).toEqual([]);
});

afterAll(async () => {
  await engine.close();
});

let n = 0;
const uid = (prefix: string) => `${prefix}-${++n}-${Math.random().toString(36).slice(2, 7)}`;

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last value: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface JourneyMessage {
  kind: 'journey';
  journeyId: string;
  version: number;
  stepId: string;
  executionName: string;
  userId: string | null;
  profile: string;
  templateId: string;
  channel: 'email' | 'sms';
  entry: Record<string, unknown>;
}

/** What a send step of a run entered by `Cart Abandoned` puts on the queue. */
function journeyMessage(userId: string, templateId: string, overrides: Partial<JourneyMessage> = {}): JourneyMessage {
  const journeyId = `j_${Math.random().toString(16).slice(2, 18)}`;
  return {
    kind: 'journey',
    journeyId,
    version: 3,
    stepId: 'email',
    executionName: `${journeyId}-3-${userId}-once`,
    userId,
    profile: `USER#${userId}`,
    templateId,
    channel: 'email',
    entry: { event: 'Cart Abandoned', messageId: uid('m'), properties: { cartId: 'c_9', total: 42 }, timestamp: '2026-03-01T10:00:00.000Z' },
    ...overrides,
  };
}

async function enqueue(...messages: JourneyMessage[]): Promise<void> {
  await engine.queues.send(
    'send',
    messages.map((body) => ({ body })),
  );
  await engine.settle();
}

async function emailTemplate(): Promise<string> {
  const r = await engine.api('POST', '/v1/templates', {
    name: 'Cart reminder',
    channel: 'email',
    subject: 'Your cart {{ entry.properties.cartId }} is waiting',
    html: '<p>Hi {{ traits.firstName | default: "there" }}, {{ entry.event }} in {{ journeyId }}: {{ entry.properties.total }}</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>',
  });
  expect(r.status).toBe(201);
  return r.body.id as string;
}

async function smsTemplate(): Promise<string> {
  const r = await engine.api('POST', '/v1/templates', { name: 'Cart SMS', channel: 'sms', body: 'Hi {{ traits.firstName }}, cart {{ entry.properties.cartId }} is waiting' });
  expect(r.status).toBe(201);
  return r.body.id as string;
}

async function mailsTo(address: string) {
  return (await engine.ses.store()).filter((m) => m.destination.to.includes(address));
}

async function messagesOf(userId: string): Promise<Array<Record<string, any>>> {
  return (await engine.api('GET', `/v1/profiles/${userId}/messages`)).body.items;
}

/** The journey send claim of a message, as stored (profile pk / JSEND#…). */
async function claimOf(message: JourneyMessage): Promise<Record<string, unknown> | undefined> {
  const sk = journeySendSk(message.journeyId, message.executionName, message.stepId);
  return (await engine.snapshot()).find((item) => item.pk === message.profile && item.sk === sk);
}

async function broadcastSendItems(): Promise<number> {
  return (await engine.snapshot()).filter((item) => String(item.pk).startsWith('SEND#')).length;
}

describe('a journey send step', () => {
  describe('when the user can be reached by email', () => {
    it('sends once, rendering the entry event and the journey id, logs it under the profile with journeyId and stepId, and counts no broadcast', async () => {
      // Prepare
      const userId = uid('cart');
      const email = `${userId}@example.com`;
      await engine.ingest('/v1/identify', { userId, traits: { email, firstName: 'Ada' } });
      const message = journeyMessage(userId, await emailTemplate());

      // Act
      await enqueue(message);

      // Assess: one mail, rendered with the entry and the journey.
      const mails = await mailsTo(email);
      expect(mails).toHaveLength(1);
      expect(mails[0]?.subject).toBe('Your cart c_9 is waiting');
      expect(mails[0]?.body.html).toContain(`Hi Ada, Cart Abandoned in ${message.journeyId}: 42`);
      expect(mails[0]?.headers).toEqual(expect.arrayContaining([{ name: 'List-Unsubscribe-Post', value: 'List-Unsubscribe=One-Click' }]));
      expect(mails[0]?.tags).toEqual(expect.arrayContaining([{ name: 'engage_journey', value: message.journeyId }]));
      // The unsubscribe link names the journey (and works like a broadcast's).
      const link = /<(http:[^>]+)>/.exec(mails[0]?.headers.find((h) => h.name === 'List-Unsubscribe')?.value ?? '')?.[1] ?? '';
      const token = decodeURIComponent(new URL(link).searchParams.get('token') ?? '');
      expect(JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString())).toMatchObject({ userId, channel: 'email', journeyId: message.journeyId });
      // The profile's messages show it, and delivery feedback reached it.
      const log = await until(() => messagesOf(userId), (items) => items[0]?.status === 'delivered');
      expect(log).toHaveLength(1);
      expect(log[0]).toMatchObject({ channel: 'email', templateId: message.templateId, journeyId: message.journeyId, stepId: 'email', status: 'delivered' });
      expect(log[0]?.broadcastId).toBeUndefined();
      // The claim is sent, under the profile, with the logged message's id.
      expect(await claimOf(message)).toMatchObject({ itemType: 'journeySendClaim', status: 'sent', messageId: log[0]?.id, delivery: 'delivered' });
      expect(engine.bus.recent(1000, { detailType: 'Message Sent' }).some((e) => e.detail.journeyId === message.journeyId && e.detail.userId === userId)).toBe(true);
      expect(await broadcastSendItems()).toBe(0);
    });

    it('sends once when the same message is delivered twice at once and again later (SQS redelivery, Step Functions retry)', async () => {
      // Prepare
      const userId = uid('twice');
      const email = `${userId}@example.com`;
      await engine.ingest('/v1/identify', { userId, traits: { email } });
      const message = journeyMessage(userId, await emailTemplate());

      // Act
      await enqueue(message, structuredClone(message));
      await enqueue(structuredClone(message));

      // Assess
      expect(await mailsTo(email)).toHaveLength(1);
      expect(await messagesOf(userId)).toHaveLength(1);
      expect(await claimOf(message)).toMatchObject({ status: 'sent' });
    });

    it('sends again for another step or another execution of the same journey', async () => {
      const userId = uid('steps');
      const email = `${userId}@example.com`;
      await engine.ingest('/v1/identify', { userId, traits: { email } });
      const first = journeyMessage(userId, await emailTemplate());
      await enqueue(first, { ...first, stepId: 'email2' }, { ...first, executionName: `${first.executionName}-2` });
      expect(await mailsTo(email)).toHaveLength(3);
      expect((await messagesOf(userId)).map((m) => m.stepId).sort()).toEqual(['email', 'email', 'email2']);
    });

    it('goes through the account rate limit only', async () => {
      const userId = uid('rate');
      await engine.ingest('/v1/identify', { userId, traits: { email: `${userId}@example.com` } });
      const spy = jest.spyOn(engine.services.rateLimiter, 'tryAcquire');
      try {
        await enqueue(journeyMessage(userId, await emailTemplate()));
        expect(spy).toHaveBeenCalledWith([{ scope: 'account-email', perSecond: 200 }], expect.any(Date));
      } finally {
        spy.mockRestore();
      }
    });
  });

  describe('when the user cannot be reached', () => {
    it('skips an unsubscribed user, a suppressed address and a user without an address, recording why, and sends nothing', async () => {
      // Prepare
      const template = await emailTemplate();
      const [unsubscribed, suppressed, noAddress] = [uid('unsub'), uid('supp'), uid('noaddr')];
      await engine.ingest('/v1/identify', { userId: unsubscribed, traits: { email: `${unsubscribed}@example.com` } });
      await engine.ingest('/v1/identify', { userId: suppressed, traits: { email: `${suppressed}@example.com` } });
      await engine.ingest('/v1/identify', { userId: noAddress, traits: { phone: '+14155550100' } });
      await engine.api('PUT', `/v1/profiles/${unsubscribed}/subscriptions`, { email: 'unsubscribed' });
      await engine.services.suppressions.suppress('email', `${suppressed}@example.com`, 'bounce', new Date().toISOString());
      const messages = [journeyMessage(unsubscribed, template), journeyMessage(suppressed, template), journeyMessage(noAddress, template)];

      // Act
      await enqueue(...messages);

      // Assess
      expect(await claimOf(messages[0]!)).toMatchObject({ status: 'skipped', skipReason: 'unsubscribed' });
      expect(await claimOf(messages[1]!)).toMatchObject({ status: 'skipped', skipReason: 'suppressed' });
      expect(await claimOf(messages[2]!)).toMatchObject({ status: 'skipped', skipReason: 'noAddress' });
      for (const userId of [unsubscribed, suppressed]) expect(await mailsTo(`${userId}@example.com`)).toHaveLength(0);
      for (const userId of [unsubscribed, suppressed, noAddress]) expect(await messagesOf(userId)).toEqual([]);
      expect(await broadcastSendItems()).toBe(0);
    });

    it('skips a run whose profile does not exist', async () => {
      const message = journeyMessage(uid('ghost'), await emailTemplate());
      await enqueue(message);
      expect(await claimOf(message)).toMatchObject({ status: 'skipped', skipReason: 'noAddress' });
    });
  });

  describe('when the channel is SMS', () => {
    it('sends the rendered text once to the profile’s phone and logs it', async () => {
      // Prepare
      const userId = uid('sms');
      const phone = '+14155550123';
      await engine.ingest('/v1/identify', { userId, traits: { phone, firstName: 'Sam' } });
      const message = journeyMessage(userId, await smsTemplate(), { channel: 'sms', stepId: 'sms' });

      // Act
      await enqueue(message, structuredClone(message));

      // Assess
      const sent = engine.smsOutbox.list().filter((m) => m.tags.engage_journey === message.journeyId);
      expect(sent.map((m) => [m.to, m.body])).toEqual([[phone, 'Hi Sam, cart c_9 is waiting']]);
      const log = await until(() => messagesOf(userId), (items) => items[0]?.status === 'delivered');
      expect(log).toEqual([expect.objectContaining({ channel: 'sms', journeyId: message.journeyId, stepId: 'sms', status: 'delivered' })]);
      expect(await claimOf(message)).toMatchObject({ status: 'sent', messageId: log[0]?.id });
    });
  });

  describe('when the provider fails', () => {
    it('releases the claim on a transient error, and the retry sends once', async () => {
      // Prepare
      const userId = uid('transient');
      const phone = '+14155550124';
      await engine.ingest('/v1/identify', { userId, traits: { phone, firstName: 'Tia' } });
      const message = journeyMessage(userId, await smsTemplate(), { channel: 'sms', stepId: 'sms' });
      const release = jest.spyOn(engine.services.sends, 'release');
      const silence = jest.spyOn(console, 'error').mockImplementation(() => undefined);
      engine.smsOutbox.failNext(1, 'transient');

      try {
        // Act
        await enqueue(message);

        // Assess
        expect(release).toHaveBeenCalledTimes(1);
        expect(release.mock.calls[0]?.[0]).toMatchObject({ journeyId: message.journeyId, executionName: message.executionName, stepId: 'sms' });
        expect(engine.smsOutbox.list().filter((m) => m.to === phone)).toHaveLength(1);
        const log = await until(() => messagesOf(userId), (items) => items.some((m) => m.status === 'delivered'));
        // As for broadcasts: the attempt the provider refused stays in the log as failed.
        expect(log.map((m) => m.status).sort()).toEqual(['delivered', 'failed']);
        expect(await claimOf(message)).toMatchObject({ status: 'sent', messageId: log.find((m) => m.status === 'delivered')?.id });
      } finally {
        release.mockRestore();
        silence.mockRestore();
      }
    });

    it('fails for good, without sending, when the provider refuses or the template is for the other channel', async () => {
      // Prepare
      const userId = uid('refused');
      await engine.ingest('/v1/identify', { userId, traits: { phone: '+14155550125', email: `${userId}@example.com` } });
      const refused = journeyMessage(userId, await smsTemplate(), { channel: 'sms', stepId: 'sms' });
      const mismatched = journeyMessage(userId, await emailTemplate(), { channel: 'sms', stepId: 'wrong' });
      engine.smsOutbox.failNext(1, 'permanent');

      // Act
      await enqueue(refused);
      await enqueue(mismatched);

      // Assess
      expect(await claimOf(refused)).toMatchObject({ status: 'failed', failReason: expect.stringContaining('permanent') });
      expect(await claimOf(mismatched)).toMatchObject({ status: 'failed', failReason: expect.stringContaining('is for email, not sms') });
      expect(engine.smsOutbox.list().filter((m) => m.to === '+14155550125')).toHaveLength(0);
      expect((await messagesOf(userId)).map((m) => m.status)).toEqual(['failed', 'failed']);
    });

    it('is completed by the provider’s Send event when the sender dies after the provider accepted, and is not sent again', async () => {
      // Prepare
      const userId = uid('died');
      const email = `${userId}@example.com`;
      await engine.ingest('/v1/identify', { userId, traits: { email } });
      const message = journeyMessage(userId, await emailTemplate());
      const finish = engine.services.sends.finish.bind(engine.services.sends);
      let died = false;
      const dying = jest.spyOn(engine.services.sends, 'finish').mockImplementation(async (key: SendRecordKey, messageId, change) => {
        if (!died && 'journeyId' in key && key.journeyId === message.journeyId && change.status === 'sent') {
          died = true;
          throw new Error('sender died (injected)');
        }
        return finish(key, messageId, change);
      });
      const silence = jest.spyOn(console, 'error').mockImplementation(() => undefined);

      try {
        // Act
        await enqueue(message);

        // Assess
        expect(died).toBe(true);
        expect(await mailsTo(email)).toHaveLength(1);
        expect(await claimOf(message)).toMatchObject({ status: 'sent' });
        expect(await messagesOf(userId)).toHaveLength(1);
      } finally {
        dying.mockRestore();
        silence.mockRestore();
      }
    });
  });

  describe('when the message is malformed', () => {
    it('drops one without an executionName like any bad send message: nothing sent, stored or retried', async () => {
      // Prepare
      const userId = uid('malformed');
      const email = `${userId}@example.com`;
      await engine.ingest('/v1/identify', { userId, traits: { email } });
      const { executionName: _dropped, ...malformed } = journeyMessage(userId, await emailTemplate());
      await engine.settle();
      const deadBefore = engine.queues.deadLetters('send').length;
      const before = (await engine.snapshot()).filter((item) => item.pk === `USER#${userId}`);
      const event: SQSEvent = {
        Records: [
          {
            messageId: 'sqs-1',
            receiptHandle: 'r-1',
            body: JSON.stringify(malformed),
            attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'x', ApproximateFirstReceiveTimestamp: '0' },
            messageAttributes: {},
            md5OfBody: '',
            eventSource: 'aws:sqs',
            eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:send',
            awsRegion: 'us-east-1',
          },
        ],
      };

      // Act
      const direct = await senderHandler(event, localLambdaContext('sender'));
      await engine.queues.send('send', [{ body: malformed }]);
      await engine.settle();

      // Assess: not failed (a retry cannot help), nothing written, nothing sent.
      expect(direct).toEqual({ batchItemFailures: [] });
      expect(engine.queues.deadLetters('send')).toHaveLength(deadBefore);
      expect((await engine.snapshot()).filter((item) => item.pk === `USER#${userId}`)).toEqual(before);
      expect(await mailsTo(email)).toHaveLength(0);
    });
  });
});

import { SQSClient, SendMessageBatchCommand, type SendMessageBatchCommandInput } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { QueueSendError, SqsQueue, queueUrlsFromEnv } from '../../../shared/aws/sqs/queue';
import type { QueueName } from '../../../shared/ports';

const sqsMock = mockClient(SQSClient);
const client = new SQSClient({ region: 'us-east-1' });
const SEND_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/engage-send';
const urls: Record<QueueName, string | undefined> = { backfill: undefined, send: SEND_URL, fanout: undefined, entry: undefined, feedback: undefined };

/** Replies as SQS does when every entry of the request succeeds. */
function allSucceed(input: SendMessageBatchCommandInput) {
  return { Successful: (input.Entries ?? []).map((e) => ({ Id: e.Id, MessageId: `m-${e.Id}`, MD5OfMessageBody: 'x' })), Failed: [] };
}

function entriesOfCall(n: number): NonNullable<SendMessageBatchCommandInput['Entries']> {
  const call = sqsMock.commandCalls(SendMessageBatchCommand)[n];
  return call?.args[0].input.Entries ?? [];
}

describe('SqsQueue', () => {
  afterEach(() => {
    sqsMock.reset();
  });

  describe('when sending more than 10 messages', () => {
    it('sends them in batches of 10 with JSON bodies and delays', async () => {
      // Prepare
      sqsMock.on(SendMessageBatchCommand).callsFake(allSucceed);
      const queue = new SqsQueue(client, urls);
      const messages = Array.from({ length: 25 }, (_, i) => ({ body: { n: i }, delaySeconds: i === 0 ? 30 : undefined }));

      // Act
      await queue.send('send', messages);

      // Assess
      expect(sqsMock).toHaveReceivedCommandTimes(SendMessageBatchCommand, 3);
      expect(sqsMock).toHaveReceivedCommandWith(SendMessageBatchCommand, { QueueUrl: SEND_URL });
      const sizes = [0, 1, 2].map((n) => entriesOfCall(n).length).sort((a, b) => b - a);
      expect(sizes).toEqual([10, 10, 5]);
      const all = [0, 1, 2].flatMap((n) => entriesOfCall(n));
      expect(all.map((e) => JSON.parse(e.MessageBody ?? 'null'))).toEqual(expect.arrayContaining(messages.map((m) => m.body)));
      expect(new Set(all.map((e) => e.Id)).size).toBe(25);
      expect(all.find((e) => e.MessageBody === '{"n":0}')?.DelaySeconds).toBe(30);
      expect(all.find((e) => e.MessageBody === '{"n":1}')).not.toHaveProperty('DelaySeconds');
    });
  });

  describe('when messages are large', () => {
    it('splits batches so that none exceeds 256 KiB', async () => {
      // Prepare
      sqsMock.on(SendMessageBatchCommand).callsFake(allSucceed);
      const queue = new SqsQueue(client, urls, { parallelBatches: 1 });
      const big = 'x'.repeat(100 * 1024);

      // Act
      await queue.send('send', [1, 2, 3, 4, 5].map((n) => ({ body: { n, big } })));

      // Assess
      expect(sqsMock).toHaveReceivedCommandTimes(SendMessageBatchCommand, 3);
      expect([0, 1, 2].map((n) => entriesOfCall(n).length)).toEqual([2, 2, 1]);
      for (const n of [0, 1, 2]) {
        const bytes = entriesOfCall(n).reduce((sum, e) => sum + Buffer.byteLength(e.MessageBody ?? '', 'utf8'), 0);
        expect(bytes).toBeLessThanOrEqual(256 * 1024);
      }
    });

    it('rejects a single message over the limit without sending anything', async () => {
      // Prepare
      const queue = new SqsQueue(client, urls);

      // Act
      const sending = queue.send('send', [{ body: { ok: true } }, { body: { big: 'x'.repeat(256 * 1024) } }]);

      // Assess
      await expect(sending).rejects.toThrow(/queue "send": message 1 is \d+ bytes/);
      expect(sqsMock).not.toHaveReceivedCommand(SendMessageBatchCommand);
    });
  });

  describe('when SQS reports failed entries', () => {
    it('retries only the failed entries', async () => {
      // Prepare
      sqsMock
        .on(SendMessageBatchCommand)
        .resolvesOnce({
          Successful: [{ Id: '0', MessageId: 'm-0', MD5OfMessageBody: 'x' }, { Id: '2', MessageId: 'm-2', MD5OfMessageBody: 'x' }],
          Failed: [{ Id: '1', Code: 'InternalError', SenderFault: false }],
        })
        .callsFake(allSucceed);
      const queue = new SqsQueue(client, urls, { baseDelayMs: 1 });

      // Act
      await queue.send('send', [{ body: 'a' }, { body: 'b' }, { body: 'c' }]);

      // Assess
      expect(sqsMock).toHaveReceivedCommandTimes(SendMessageBatchCommand, 2);
      expect(sqsMock).toHaveReceivedNthSpecificCommandWith(2, SendMessageBatchCommand, {
        QueueUrl: SEND_URL,
        Entries: [{ Id: '1', MessageBody: '"b"' }],
      });
    });

    it('throws naming the queue and the failed count when entries keep failing', async () => {
      // Prepare
      sqsMock.on(SendMessageBatchCommand).callsFake((input: SendMessageBatchCommandInput) => ({
        Successful: [],
        Failed: (input.Entries ?? []).filter((e) => e.Id !== '0').map((e) => ({ Id: e.Id, Code: 'ServiceUnavailable', SenderFault: false })),
      }));
      const queue = new SqsQueue(client, urls, { maxAttempts: 3, baseDelayMs: 1 });

      // Act
      const sending = queue.send('send', [{ body: 1 }, { body: 2 }, { body: 3 }]);

      // Assess
      await expect(sending).rejects.toThrow(QueueSendError);
      await expect(sending).rejects.toThrow('queue "send": 2 of 3 message(s) were not sent (ServiceUnavailable)');
      expect(sqsMock).toHaveReceivedCommandTimes(SendMessageBatchCommand, 3);
    });

    it('does not retry sender faults, which would fail again', async () => {
      // Prepare
      sqsMock.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [{ Id: '0', Code: 'InvalidMessageContents', SenderFault: true }] });
      const queue = new SqsQueue(client, urls, { baseDelayMs: 1 });

      // Act
      const sending = queue.send('send', [{ body: 'a' }]);

      // Assess
      await expect(sending).rejects.toThrow('queue "send": 1 of 1 message(s) were not sent (InvalidMessageContents)');
      expect(sqsMock).toHaveReceivedCommandTimes(SendMessageBatchCommand, 1);
    });
  });

  describe('when the queue URL is missing', () => {
    it('throws naming the environment variable', async () => {
      // Prepare
      const queue = new SqsQueue(client, urls);

      // Act
      const sending = queue.send('fanout', [{ body: {} }]);

      // Assess
      await expect(sending).rejects.toThrow('QUEUE_URL_FANOUT is not set');
      expect(sqsMock).not.toHaveReceivedCommand(SendMessageBatchCommand);
    });
  });

  describe('when input breaks SQS limits', () => {
    it('rejects a delay over 900 seconds and a body that is not JSON', async () => {
      // Prepare
      const queue = new SqsQueue(client, urls);

      // Act
      const delayed = queue.send('send', [{ body: {}, delaySeconds: 901 }]);
      const undefinedBody = queue.send('send', [{ body: undefined }]);

      // Assess
      await expect(delayed).rejects.toThrow(RangeError);
      await expect(undefinedBody).rejects.toThrow(TypeError);
      expect(sqsMock).not.toHaveReceivedCommand(SendMessageBatchCommand);
    });

    it('escapes characters SQS does not accept and sends nothing for an empty list', async () => {
      // Prepare
      sqsMock.on(SendMessageBatchCommand).callsFake(allSucceed);
      const queue = new SqsQueue(client, urls);

      // Act
      await queue.send('send', []);
      await queue.send('send', [{ body: { text: 'a\uFFFFb' } }]);

      // Assess
      expect(sqsMock).toHaveReceivedCommandTimes(SendMessageBatchCommand, 1);
      const body = entriesOfCall(0)[0]?.MessageBody ?? '';
      expect(body).toBe('{"text":"a\\uffffb"}');
      expect(JSON.parse(body)).toEqual({ text: 'a\uFFFFb' });
    });
  });
});

describe('queueUrlsFromEnv', () => {
  it('reads QUEUE_URL_<NAME> and treats empty values as missing', () => {
    // Prepare
    const env = { QUEUE_URL_BACKFILL: 'https://q/backfill', QUEUE_URL_SEND: '', QUEUE_URL_ENTRY: 'https://q/entry', OTHER: 'x' };

    // Act
    const read = queueUrlsFromEnv(env);

    // Assess
    expect(read).toEqual({ backfill: 'https://q/backfill', send: undefined, fanout: undefined, entry: 'https://q/entry' });
  });
});

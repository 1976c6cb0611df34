import { createHash } from 'node:crypto';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { LocalQueues, type QueueConsumerOptions } from '../../infra/local/queue';

const FAST: QueueConsumerOptions = { visibilityTimeoutMs: 40, maxReceiveCount: 5 };

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('LocalQueues', () => {
  let queues: LocalQueues;
  let logs: string[];

  beforeEach(() => {
    logs = [];
    queues = new LocalQueues({ log: (message) => logs.push(message) });
  });

  afterEach(async () => {
    await queues.close();
  });

  describe('when a message is sent to a queue with a consumer', () => {
    it('delivers it once as an SQS event record and deletes it', async () => {
      // Prepare
      const records: SQSRecord[] = [];
      queues.registerConsumer('send', async (event) => {
        records.push(...event.Records);
      });

      // Act
      await queues.send('send', [{ body: { recipient: 'u-1', step: 2 } }]);
      await queues.drain(2_000);

      // Assess
      expect(records).toHaveLength(1);
      const [record] = records;
      const body = '{"recipient":"u-1","step":2}';
      expect(record).toEqual({
        messageId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        receiptHandle: expect.any(String),
        body,
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: expect.stringMatching(/^\d{13}$/),
          SenderId: expect.any(String),
          ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d{13}$/),
        },
        messageAttributes: {},
        md5OfBody: createHash('md5').update(body).digest('hex'),
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:send',
        awsRegion: 'us-east-1',
      });
      expect(queues.depth('send')).toBe(0);
      expect(queues.deadLetters('send')).toEqual([]);
    });
  });

  describe('when more messages than the batch size are waiting', () => {
    it('delivers batches of at most batchSize', async () => {
      // Prepare
      const sizes: number[] = [];
      const bodies: string[] = [];
      queues.registerConsumer(
        'fanout',
        async (event) => {
          sizes.push(event.Records.length);
          bodies.push(...event.Records.map((r) => r.body));
        },
        { batchSize: 4, concurrency: 1 },
      );

      // Act
      await queues.send('fanout', Array.from({ length: 10 }, (_, i) => ({ body: i })));
      await queues.drain(2_000);

      // Assess
      expect(sizes).toEqual([4, 4, 2]);
      expect(bodies.map(Number).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });

    it('waits up to batchWindowMs to fill a batch', async () => {
      // Prepare
      const sizes: number[] = [];
      queues.registerConsumer('fanout', async (event) => void sizes.push(event.Records.length), { batchSize: 5, batchWindowMs: 300 });

      // Act
      await queues.send('fanout', [{ body: 1 }, { body: 2 }]);
      await sleep(20);
      await queues.send('fanout', [{ body: 3 }, { body: 4 }, { body: 5 }]);
      await queues.drain(2_000);

      // Assess
      expect(sizes).toEqual([5]);
    });
  });

  describe('when the handler throws', () => {
    it('redelivers the whole batch after the visibility timeout, with a higher receive count', async () => {
      // Prepare
      const deliveries: Array<{ at: number; ids: string[]; counts: string[]; handles: string[] }> = [];
      queues.registerConsumer(
        'entry',
        async (event) => {
          deliveries.push({
            at: Date.now(),
            ids: event.Records.map((r) => r.messageId),
            counts: event.Records.map((r) => r.attributes.ApproximateReceiveCount),
            handles: event.Records.map((r) => r.receiptHandle),
          });
          if (deliveries.length === 1) throw new Error('database unavailable');
        },
        { visibilityTimeoutMs: 200 },
      );

      // Act
      await queues.send('entry', [{ body: 'a' }, { body: 'b' }]);
      await sleep(20);
      const depthWhileInvisible = queues.depth('entry');
      await queues.drain(2_000);

      // Assess
      expect(depthWhileInvisible).toBe(2);
      expect(deliveries).toHaveLength(2);
      const [first, second] = deliveries;
      expect(second?.ids).toEqual(first?.ids);
      expect(first?.counts).toEqual(['1', '1']);
      expect(second?.counts).toEqual(['2', '2']);
      expect(second?.handles).not.toEqual(first?.handles);
      expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(190);
      expect(logs.join('\n')).toContain('handler threw Error');
      expect(logs.join('\n')).not.toContain('database unavailable');
    });
  });

  describe('when the handler reports batch item failures', () => {
    it('redelivers only the failed messages', async () => {
      // Prepare
      const seen: string[][] = [];
      queues.registerConsumer(
        'send',
        async (event): Promise<SQSBatchResponse> => {
          seen.push(event.Records.map((r) => r.body));
          const failed = seen.length === 1 ? event.Records.filter((r) => r.body === '"b"') : [];
          return { batchItemFailures: failed.map((r) => ({ itemIdentifier: r.messageId })) };
        },
        FAST,
      );

      // Act
      await queues.send('send', [{ body: 'a' }, { body: 'b' }, { body: 'c' }]);
      await queues.drain(2_000);

      // Assess
      expect(seen).toEqual([['"a"', '"b"', '"c"'], ['"b"']]);
    });

    it('treats an unknown itemIdentifier as a failure of the whole batch', async () => {
      // Prepare
      const seen: number[] = [];
      queues.registerConsumer(
        'send',
        async (event): Promise<SQSBatchResponse> => {
          seen.push(event.Records.length);
          return { batchItemFailures: seen.length === 1 ? [{ itemIdentifier: 'not-in-batch' }] : [] };
        },
        FAST,
      );

      // Act
      await queues.send('send', [{ body: 1 }, { body: 2 }]);
      await queues.drain(2_000);

      // Assess
      expect(seen).toEqual([2, 2]);
    });
  });

  describe('when a message keeps failing', () => {
    it('moves it to the dead-letter list after maxReceiveCount receives', async () => {
      // Prepare
      const counts: string[] = [];
      queues.registerConsumer(
        'backfill',
        async (event: SQSEvent) => {
          counts.push(...event.Records.map((r) => r.attributes.ApproximateReceiveCount));
          throw new TypeError('segment 3 is malformed');
        },
        { visibilityTimeoutMs: 20, maxReceiveCount: 3 },
      );

      // Act
      await queues.send('backfill', [{ body: { segment: 3 } }]);
      await queues.drain(2_000);

      // Assess
      expect(counts).toEqual(['1', '2', '3']);
      expect(queues.depth('backfill')).toBe(0);
      const dead = queues.deadLetters('backfill');
      expect(dead).toHaveLength(1);
      expect(dead[0]).toEqual(
        expect.objectContaining({ body: '{"segment":3}', receiveCount: 3, lastError: 'TypeError: segment 3 is malformed' }),
      );
      expect(logs.some((line) => line.includes('dead-letter') && line.includes(dead[0]?.messageId ?? '?'))).toBe(true);
    });
  });

  describe('when a message is delayed', () => {
    it('delivers it only after delaySeconds, and drain() waits for it', async () => {
      // Prepare
      const deliveredAt: number[] = [];
      queues.registerConsumer('send', async () => void deliveredAt.push(Date.now()));
      const sentAt = Date.now();

      // Act
      await queues.send('send', [{ body: 'later', delaySeconds: 1 }]);
      await sleep(100);
      const early = { delivered: deliveredAt.length, depth: queues.depth('send') };
      await queues.drain(3_000);

      // Assess
      expect(early).toEqual({ delivered: 0, depth: 1 });
      expect(deliveredAt).toHaveLength(1);
      expect((deliveredAt[0] ?? 0) - sentAt).toBeGreaterThanOrEqual(990);
    });

    it('rejects a delay over 900 seconds, storing nothing', async () => {
      // Act
      const sending = queues.send('send', [{ body: 'ok' }, { body: 'too late', delaySeconds: 901 }]);

      // Assess
      await expect(sending).rejects.toThrow(RangeError);
      expect(queues.depth('send')).toBe(0);
    });
  });

  describe('when many batches are waiting', () => {
    it('runs at most `concurrency` batches at once', async () => {
      // Prepare
      let active = 0;
      let maxActive = 0;
      let batches = 0;
      queues.registerConsumer(
        'send',
        async () => {
          active += 1;
          batches += 1;
          maxActive = Math.max(maxActive, active);
          await sleep(25);
          active -= 1;
        },
        { batchSize: 1, concurrency: 3 },
      );

      // Act
      await queues.send('send', Array.from({ length: 9 }, (_, i) => ({ body: i })));
      await queues.drain(2_000);

      // Assess
      expect(batches).toBe(9);
      expect(maxActive).toBe(3);
    });
  });

  describe('when handlers send more messages', () => {
    it('drain() waits for the messages they send as well', async () => {
      // Prepare
      const sent: string[] = [];
      queues.registerConsumer('fanout', async (event) => {
        for (const record of event.Records) {
          await sleep(10);
          const shard = Number(record.body);
          await queues.send('send', [{ body: `${shard}-a` }, { body: `${shard}-b`, delaySeconds: 0 }]);
        }
      });
      queues.registerConsumer('send', async (event) => void sent.push(...event.Records.map((r) => String(JSON.parse(r.body)))));

      // Act
      await queues.send('fanout', [{ body: 1 }, { body: 2 }, { body: 3 }]);
      await queues.drain(2_000);

      // Assess
      expect(sent.sort()).toEqual(['1-a', '1-b', '2-a', '2-b', '3-a', '3-b']);
      expect(queues.depth('fanout') + queues.depth('send')).toBe(0);
    });
  });

  describe('when a queue has no consumer', () => {
    it('accumulates messages until a consumer is registered, and drain() does not wait for it', async () => {
      // Prepare
      const received: string[] = [];
      const hooked: string[] = [];
      await queues.close();
      queues = new LocalQueues({ log: () => undefined, onSend: (queue, messages) => hooked.push(...messages.map((m) => `${queue}:${m.body}`)) });

      // Act
      await queues.send('entry', [{ body: 'x' }, { body: 'y' }]);
      await queues.drain(500);
      const depthBefore = queues.depth('entry');
      queues.registerConsumer('entry', async (event) => void received.push(...event.Records.map((r) => r.body)));
      await queues.drain(2_000);

      // Assess
      expect(depthBefore).toBe(2);
      expect(received).toEqual(['"x"', '"y"']);
      expect(hooked).toEqual(['entry:"x"', 'entry:"y"']);
    });

    it('rejects the send when the onSend hook throws', async () => {
      // Prepare
      await queues.close();
      queues = new LocalQueues({
        onSend: () => {
          throw new Error('queue unavailable');
        },
      });

      // Act
      const sending = queues.send('send', [{ body: 1 }]);

      // Assess
      await expect(sending).rejects.toThrow('queue unavailable');
      expect(queues.depth('send')).toBe(0);
    });
  });

  describe('when closed', () => {
    it('waits for running handlers and delivers nothing more', async () => {
      // Prepare
      let finished = 0;
      let started = 0;
      let signalStarted = (): void => undefined;
      const handlerStarted = new Promise<void>((resolve) => (signalStarted = resolve));
      queues.registerConsumer('send', async () => {
        started += 1;
        signalStarted();
        await sleep(50);
        finished += 1;
      });
      await queues.send('send', [{ body: 1 }]);
      await handlerStarted;

      // Act
      await queues.close();
      await queues.send('send', [{ body: 2 }]);
      await sleep(30);

      // Assess
      expect({ started, finished }).toEqual({ started: 1, finished: 1 });
      expect(queues.depth('send')).toBe(1);
    });
  });

  describe('when given an invalid consumer', () => {
    it('rejects a second consumer on the same queue and out-of-range options', () => {
      // Prepare
      queues.registerConsumer('send', async () => undefined);

      // Act
      const second = () => queues.registerConsumer('send', async () => undefined);
      const badBatch = () => queues.registerConsumer('entry', async () => undefined, { batchSize: 0 });

      // Assess
      expect(second).toThrow('already has a consumer');
      expect(badBatch).toThrow(RangeError);
    });
  });
});

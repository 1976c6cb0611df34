import { LocalEventBus, type BusEnvelope } from '../../infra/local/event-bus';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const clock = { now: () => new Date('2025-03-01T12:00:00.456Z') };

describe('LocalEventBus', () => {
  let bus: LocalEventBus;
  let logs: string[];

  beforeEach(() => {
    logs = [];
    bus = new LocalEventBus({ clock, retryDelayMs: 5, log: (message) => logs.push(message) });
  });

  afterEach(async () => {
    await bus.close();
  });

  describe('when subscribers filter by detail type', () => {
    it('delivers each event, in the EventBridge envelope, only to matching subscribers', async () => {
      // Prepare
      const membership: BusEnvelope[] = [];
      const journeys: string[] = [];
      const everything: string[] = [];
      bus.subscribe({ detailType: 'Audience Membership Changed' }, async (event) => void membership.push(event));
      bus.subscribe({ detailType: ['Journey Entered', 'Journey Exited'] }, async (event) => void journeys.push(event['detail-type']));
      bus.subscribe({}, async (event) => void everything.push(event['detail-type']));

      // Act
      await bus.publish([
        { detailType: 'Audience Membership Changed', detail: { audienceId: 'a-1', userId: 'u-1', entered: true } },
        { detailType: 'Journey Entered', detail: { journeyId: 'j-1' }, time: '2025-02-01T08:30:00.999Z' },
        { detailType: 'Message Sent', detail: { messageId: 'm-1' } },
      ]);
      await bus.drain(2_000);

      // Assess
      expect(membership).toEqual([
        {
          version: '0',
          id: expect.stringMatching(/^[0-9a-f-]{36}$/),
          'detail-type': 'Audience Membership Changed',
          source: 'engage',
          account: '000000000000',
          time: '2025-03-01T12:00:00Z',
          region: 'us-east-1',
          resources: [],
          detail: { audienceId: 'a-1', userId: 'u-1', entered: true },
        },
      ]);
      expect(journeys).toEqual(['Journey Entered']);
      expect(everything.sort()).toEqual(['Audience Membership Changed', 'Journey Entered', 'Message Sent']);
      expect(bus.recent(1, { detailType: 'Journey Entered' })[0]?.time).toBe('2025-02-01T08:30:00Z');
    });

    it('stops delivering after unsubscribe', async () => {
      // Prepare
      const seen: string[] = [];
      const unsubscribe = bus.subscribe({}, async (event) => void seen.push(String(event.detail.n)));
      await bus.publish([{ detailType: 'X', detail: { n: 1 } }]);
      await bus.drain(2_000);

      // Act
      unsubscribe();
      await bus.publish([{ detailType: 'X', detail: { n: 2 } }]);
      await bus.drain(2_000);

      // Assess
      expect(seen).toEqual(['1']);
    });
  });

  describe('when events are published', () => {
    it('keeps a bounded list of recent events, oldest first, filterable by detail type', async () => {
      // Prepare
      await bus.close();
      bus = new LocalEventBus({ capacity: 3, clock, log: () => undefined });

      // Act
      for (let n = 1; n <= 5; n += 1) await bus.publish([{ detailType: n % 2 === 0 ? 'Even' : 'Odd', detail: { n } }]);

      // Assess
      expect(bus.recent().map((e) => e.detail.n)).toEqual([3, 4, 5]);
      expect(bus.recent(2).map((e) => e.detail.n)).toEqual([4, 5]);
      expect(bus.recent(10, { detailType: 'Odd' }).map((e) => e.detail.n)).toEqual([3, 5]);
    });

    it('returns before handlers run and hands each handler its own copy', async () => {
      // Prepare
      let calls = 0;
      bus.subscribe({}, async (event) => {
        calls += 1;
        event.detail.mutated = true;
      });

      // Act
      await bus.publish([{ detailType: 'X', detail: { n: 1 } }]);
      const callsRightAfterPublish = calls;
      await bus.drain(2_000);

      // Assess
      expect(callsRightAfterPublish).toBe(0);
      expect(calls).toBe(1);
      expect(bus.recent()[0]?.detail).toEqual({ n: 1 });
    });

    it('rejects invalid events, storing none of the batch', async () => {
      // Act
      const publishing = bus.publish([
        { detailType: 'Ok', detail: {} },
        { detailType: '', detail: {} },
      ]);

      // Assess
      await expect(publishing).rejects.toThrow(TypeError);
      expect(bus.recent()).toEqual([]);
    });
  });

  describe('when a handler fails', () => {
    it('retries the same event until it succeeds', async () => {
      // Prepare
      const ids: string[] = [];
      bus.subscribe({ detailType: 'X' }, async (event) => {
        ids.push(event.id);
        if (ids.length < 3) throw new Error('not yet');
      });

      // Act
      await bus.publish([{ detailType: 'X', detail: {} }]);
      await bus.drain(2_000);

      // Assess
      expect(ids).toHaveLength(3);
      expect(new Set(ids).size).toBe(1);
      expect(bus.failedDeliveries()).toEqual([]);
    });

    it('gives up after maxAttempts and logs only ids', async () => {
      // Prepare
      await bus.close();
      bus = new LocalEventBus({ maxAttempts: 2, retryDelayMs: 5, clock, log: (message) => logs.push(message) });
      let attempts = 0;
      bus.subscribe(
        { detailType: 'Profile Erased' },
        async () => {
          attempts += 1;
          throw new Error('cannot reach jane@example.com');
        },
        { name: 'erasure-audit' },
      );

      // Act
      await bus.publish([{ detailType: 'Profile Erased', detail: { email: 'jane@example.com' } }]);
      await bus.drain(2_000);

      // Assess
      const [event] = bus.recent();
      expect(attempts).toBe(2);
      expect(bus.failedDeliveries()).toEqual([
        { eventId: event?.id, detailType: 'Profile Erased', subscription: 'erasure-audit', attempts: 2, errorName: 'Error', at: expect.any(String) },
      ]);
      expect(logs).toHaveLength(1);
      expect(logs[0]).toContain(event?.id);
      expect(logs[0]).not.toContain('jane@example.com');
    });
  });

  describe('when handlers publish more events', () => {
    it('drain() waits for their deliveries too', async () => {
      // Prepare
      const exits: unknown[] = [];
      bus.subscribe({ detailType: 'Journey Entered' }, async (event) => {
        await sleep(10);
        await bus.publish([{ detailType: 'Journey Exited', detail: { journeyId: event.detail.journeyId } }]);
      });
      bus.subscribe({ detailType: 'Journey Exited' }, async (event) => void exits.push(event.detail.journeyId));

      // Act
      await bus.publish([{ detailType: 'Journey Entered', detail: { journeyId: 'j-1' } }]);
      await bus.drain(2_000);

      // Assess
      expect(exits).toEqual(['j-1']);
    });
  });

  describe('when closed', () => {
    it('waits for running handlers, then keeps events without delivering them', async () => {
      // Prepare
      let finished = 0;
      let signalStarted = (): void => undefined;
      const handlerStarted = new Promise<void>((resolve) => (signalStarted = resolve));
      bus.subscribe({}, async () => {
        signalStarted();
        await sleep(30);
        finished += 1;
      });
      await bus.publish([{ detailType: 'X', detail: { n: 1 } }]);
      await handlerStarted;

      // Act
      await bus.close();
      await bus.publish([{ detailType: 'X', detail: { n: 2 } }]);
      await sleep(40);

      // Assess
      expect(finished).toBe(1);
      expect(bus.recent()).toHaveLength(2);
    });
  });
});

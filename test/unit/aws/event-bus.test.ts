import { EventBridgeClient, PutEventsCommand, type PutEventsCommandInput, type PutEventsCommandOutput } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { EventBridgeBus, EventPublishError } from '../../../shared/aws/eventbridge/event-bus';
import type { BusEvent } from '../../../shared/ports';

const ebMock = mockClient(EventBridgeClient);
const client = new EventBridgeClient({ region: 'us-east-1' });
const NOW = new Date('2025-03-01T12:00:00.000Z');
const clock = { now: () => NOW };

function allSucceed(input: PutEventsCommandInput): Partial<PutEventsCommandOutput> {
  return { FailedEntryCount: 0, Entries: (input.Entries ?? []).map((_, i) => ({ EventId: `e-${i}` })) };
}

function entriesOfCall(n: number): NonNullable<PutEventsCommandInput['Entries']> {
  return ebMock.commandCalls(PutEventsCommand)[n]?.args[0].input.Entries ?? [];
}

function events(count: number, detail: Record<string, unknown> = {}): BusEvent[] {
  return Array.from({ length: count }, (_, i) => ({ detailType: 'Audience Membership Changed', detail: { ...detail, n: i } }));
}

describe('EventBridgeBus', () => {
  afterEach(() => {
    ebMock.reset();
  });

  describe('when publishing more than 10 events', () => {
    it('puts them in chunks of 10 with source engage, detail type, JSON detail and time', async () => {
      // Prepare
      ebMock.on(PutEventsCommand).callsFake(allSucceed);
      const bus = new EventBridgeBus(client, 'engage', { clock });

      // Act
      await bus.publish([...events(22), { detailType: 'Journey Exited', detail: { journeyId: 'j-1' }, time: '2025-02-01T00:00:00Z' }]);

      // Assess
      expect(ebMock).toHaveReceivedCommandTimes(PutEventsCommand, 3);
      expect([0, 1, 2].map((n) => entriesOfCall(n).length)).toEqual([10, 10, 3]);
      expect(entriesOfCall(0)[0]).toEqual({
        EventBusName: 'engage',
        Source: 'engage',
        DetailType: 'Audience Membership Changed',
        Detail: '{"n":0}',
        Time: NOW,
      });
      expect(entriesOfCall(2)[2]).toEqual(
        expect.objectContaining({ DetailType: 'Journey Exited', Detail: '{"journeyId":"j-1"}', Time: new Date('2025-02-01T00:00:00Z') }),
      );
    });
  });

  describe('when events are large', () => {
    it('keeps every PutEvents call under 256 KiB', async () => {
      // Prepare
      ebMock.on(PutEventsCommand).callsFake(allSucceed);
      const bus = new EventBridgeBus(client, 'engage', { clock });

      // Act
      await bus.publish(events(5, { blob: 'x'.repeat(100 * 1024) }));

      // Assess
      expect(ebMock).toHaveReceivedCommandTimes(PutEventsCommand, 3);
      expect([0, 1, 2].map((n) => entriesOfCall(n).length)).toEqual([2, 2, 1]);
    });

    it('rejects a single event over the limit without calling EventBridge', async () => {
      // Prepare
      const bus = new EventBridgeBus(client, 'engage', { clock });

      // Act
      const publishing = bus.publish(events(1, { blob: 'x'.repeat(256 * 1024) }));

      // Assess
      await expect(publishing).rejects.toThrow(/over the 262144-byte PutEvents limit/);
      expect(ebMock).not.toHaveReceivedCommand(PutEventsCommand);
    });
  });

  describe('when some entries fail', () => {
    it('retries only the entries whose result has an ErrorCode', async () => {
      // Prepare
      ebMock
        .on(PutEventsCommand)
        .resolvesOnce({
          FailedEntryCount: 1,
          Entries: [{ EventId: 'e-0' }, { ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' }, { EventId: 'e-2' }],
        })
        .callsFake(allSucceed);
      const bus = new EventBridgeBus(client, 'engage', { clock, baseDelayMs: 1 });

      // Act
      await bus.publish(events(3));

      // Assess
      expect(ebMock).toHaveReceivedCommandTimes(PutEventsCommand, 2);
      expect(entriesOfCall(1)).toEqual([expect.objectContaining({ Detail: '{"n":1}' })]);
    });

    it('throws after the last attempt, naming the bus and the failed count', async () => {
      // Prepare
      ebMock.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => ({
        FailedEntryCount: 1,
        Entries: (input.Entries ?? []).map((e) => (e.Detail === '{"n":0}' ? { ErrorCode: 'InternalFailure' } : { EventId: 'ok' })),
      }));
      const bus = new EventBridgeBus(client, 'engage', { clock, maxAttempts: 3, baseDelayMs: 1 });

      // Act
      const publishing = bus.publish(events(2));

      // Assess
      await expect(publishing).rejects.toThrow(EventPublishError);
      await expect(publishing).rejects.toThrow('event bus "engage": 1 of 2 event(s) were not published (InternalFailure)');
      expect(ebMock).toHaveReceivedCommandTimes(PutEventsCommand, 3);
    });
  });

  describe('when input is invalid', () => {
    it('rejects an empty detail type and an invalid time before calling EventBridge', async () => {
      // Prepare
      const bus = new EventBridgeBus(client, 'engage', { clock });

      // Act
      const noType = bus.publish([{ detailType: '', detail: {} }]);
      const badTime = bus.publish([{ detailType: 'X', detail: {}, time: 'yesterday' }]);
      const nothing = bus.publish([]);

      // Assess
      await expect(noType).rejects.toThrow(TypeError);
      await expect(badTime).rejects.toThrow(RangeError);
      await expect(nothing).resolves.toBeUndefined();
      expect(ebMock).not.toHaveReceivedCommand(PutEventsCommand);
    });
  });
});

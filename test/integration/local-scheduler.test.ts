import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createTable, startLocalDynamo, type LocalDynamo } from '../../infra/local/dynamodb';
import { DynamoDbScheduleStore } from '../../infra/local/schedule-store';
import { LocalScheduler, type LocalSchedulerOptions } from '../../infra/local/scheduler';
import { HOUR, ManualClock } from '../helpers/clock';

const TABLE = 'engage-scheduler-test';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until(check: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

const inMs = (ms: number) => new Date(Date.now() + ms);

describe('LocalScheduler', () => {
  const schedulers: LocalScheduler[] = [];
  let fired: Array<{ name: string; payload: Record<string, unknown> }>;
  let logs: string[];

  function scheduler(options: Partial<LocalSchedulerOptions> = {}): LocalScheduler {
    const s = new LocalScheduler({
      onFire: async (name, payload) => {
        fired.push({ name, payload });
      },
      log: (message) => logs.push(message),
      retryBaseMs: 5,
      ...options,
    });
    schedulers.push(s);
    return s;
  }

  beforeEach(() => {
    fired = [];
    logs = [];
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await Promise.all(schedulers.splice(0).map((s) => s.close()));
  });

  describe('when schedules come due', () => {
    it('fires them in time order, a past one at once, and deletes them after firing', async () => {
      // Prepare
      const s = scheduler();

      // Act
      await s.scheduleOnce('c', inMs(90), { n: 3 });
      await s.scheduleOnce('a', inMs(30), { n: 1 });
      await s.scheduleOnce('b', inMs(60), { n: 2 });
      await s.scheduleOnce('past', new Date(Date.now() - 60_000), { n: 0 });
      const firedSynchronously = fired.length;
      await until(() => fired.length === 4);

      // Assess
      expect(firedSynchronously).toBe(0);
      expect(fired).toEqual([
        { name: 'past', payload: { n: 0 } },
        { name: 'a', payload: { n: 1 } },
        { name: 'b', payload: { n: 2 } },
        { name: 'c', payload: { n: 3 } },
      ]);
      expect(s.list()).toEqual([]);
    });

    it('arms one timer for the earliest schedule, not one per schedule', async () => {
      // Prepare
      const s = scheduler();
      const spy = jest.spyOn(global, 'setTimeout');

      // Act
      for (let i = 0; i < 50; i += 1) await s.scheduleOnce(`s-${i}`, inMs(60_000 + i * 1000), {});

      // Assess
      expect(spy).toHaveBeenCalledTimes(1);
      expect(s.list()).toHaveLength(50);
    });

    it('speeds waiting up by the time scale', async () => {
      // Prepare
      const s = scheduler({ timeScale: 864_000 }); // a day lasts 100 ms

      // Act
      await s.scheduleOnce('tomorrow', inMs(86_400_000), {});
      await until(() => fired.length === 1, 1_500);

      // Assess
      expect(fired.map((f) => f.name)).toEqual(['tomorrow']);
    });

    it('fires on check() what a manual clock moved past', async () => {
      // Prepare
      const clock = new ManualClock('2026-03-01T10:00:00.000Z');
      const s = scheduler({ clock });
      await s.scheduleOnce('at-noon', new Date('2026-03-01T12:00:00.000Z'), {});
      await s.scheduleOnce('at-one', new Date('2026-03-01T13:00:00.000Z'), {});

      // Act
      clock.advance(2 * HOUR);
      s.check();
      await s.idle();

      // Assess
      expect(fired.map((f) => f.name)).toEqual(['at-noon']);
      expect(s.list().map((e) => e.name)).toEqual(['at-one']);
    });

    it('does not fire a schedule beyond setTimeout\'s 24.8-day limit early', async () => {
      // Prepare
      const s = scheduler();

      // Act
      await s.scheduleOnce('next-month', inMs(30 * 86_400_000), {});
      await sleep(30);

      // Assess
      expect(fired).toEqual([]);
      expect(s.list().map((e) => e.name)).toEqual(['next-month']);
    });
  });

  describe('idempotency and cancel', () => {
    it('keeps the first schedule of a name and ignores the repeats', async () => {
      // Prepare
      const s = scheduler();

      // Act
      await s.scheduleOnce('broadcast-1', inMs(20), { version: 1 });
      await s.scheduleOnce('broadcast-1', inMs(5), { version: 2 });
      await until(() => fired.length === 1);
      await sleep(30);

      // Assess
      expect(fired).toEqual([{ name: 'broadcast-1', payload: { version: 1 } }]);
    });

    it('frees the name once fired: scheduling it again fires again', async () => {
      // Prepare
      const s = scheduler();
      await s.scheduleOnce('again', inMs(0), { round: 1 });
      await until(() => fired.length === 1);
      await s.idle();

      // Act
      await s.scheduleOnce('again', inMs(0), { round: 2 });
      await until(() => fired.length === 2);

      // Assess
      expect(fired.map((f) => f.payload)).toEqual([{ round: 1 }, { round: 2 }]);
    });

    it('cancel removes a pending schedule; cancelling an unknown one is fine', async () => {
      // Prepare
      const s = scheduler();
      await s.scheduleOnce('keep', inMs(30), {});
      await s.scheduleOnce('drop', inMs(10), {});

      // Act
      await s.cancel('drop');
      await s.cancel('never-created');
      await until(() => fired.length === 1);
      await sleep(20);

      // Assess
      expect(fired.map((f) => f.name)).toEqual(['keep']);
    });
  });

  describe('when onFire fails', () => {
    it('retries with back-off and succeeds without a failure recorded', async () => {
      // Prepare
      let calls = 0;
      const s = scheduler({
        onFire: async (name) => {
          calls += 1;
          if (calls < 3) throw new Error('target unavailable');
          fired.push({ name, payload: {} });
        },
      });

      // Act
      await s.scheduleOnce('flaky', inMs(0), {});
      await until(() => fired.length === 1);
      await s.idle();

      // Assess
      expect(calls).toBe(3);
      expect(s.failed()).toEqual([]);
    });

    it('gives up after maxAttempts, logs the name only and lists it as failed', async () => {
      // Prepare
      let calls = 0;
      const s = scheduler({
        maxAttempts: 3,
        onFire: async () => {
          calls += 1;
          throw Object.assign(new Error('boom'), { name: 'TargetError' });
        },
      });

      // Act
      await s.scheduleOnce('broken', inMs(0), { email: 'ada@example.com' });
      await until(() => s.failed().length === 1);

      // Assess
      expect(calls).toBe(3);
      expect(s.failed()).toEqual([
        { name: 'broken', at: expect.any(Date), payload: { email: 'ada@example.com' }, attempts: 3, lastError: 'TargetError: boom', failedAt: expect.any(String) },
      ]);
      expect(logs).toEqual(['[local-scheduler] schedule "broken" failed after 3 attempt(s) (TargetError)']);
      expect(s.list()).toEqual([]);
    });

    it('stops retrying a schedule that is cancelled meanwhile', async () => {
      // Prepare
      let calls = 0;
      const s = scheduler({
        retryBaseMs: 40,
        onFire: async () => {
          calls += 1;
          throw new Error('down');
        },
      });
      await s.scheduleOnce('doomed', inMs(0), {});
      await until(() => calls === 1);

      // Act
      await s.cancel('doomed');
      await s.idle();

      // Assess
      expect(calls).toBe(1);
      expect(s.failed()).toEqual([]);
    });
  });

  describe('with the DynamoDB store', () => {
    let dataDir: string;
    let dynamo: LocalDynamo | undefined;

    beforeEach(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'engage-sched-'));
    });

    afterEach(async () => {
      await dynamo?.close();
      dynamo = undefined;
      await rm(dataDir, { recursive: true, force: true });
    });

    async function startDynamo(): Promise<DynamoDbScheduleStore> {
      dynamo = await startLocalDynamo({ tableName: TABLE, port: 0, dataDir, sweepIntervalMs: 0 });
      await createTable(dynamo.client, TABLE);
      return new DynamoDbScheduleStore(DynamoDBDocumentClient.from(dynamo.rawClient), TABLE, (message) => logs.push(message));
    }

    it('keeps pending schedules across a restart of the scheduler and of dynalite (ENGAGE_DATA_DIR)', async () => {
      // Prepare
      const firstStore = await startDynamo();
      const first = scheduler({ store: firstStore });
      await first.start();
      const soon = inMs(150);
      await first.scheduleOnce('broadcast-b1', soon, { broadcastId: 'b1', nested: { offset: -300 } });
      await first.scheduleOnce('cancelled', inMs(150), {});
      await first.scheduleOnce('missed', inMs(60), { late: true });
      await first.cancel('cancelled');
      await first.close();
      await dynamo?.close();
      await sleep(80); // "missed" comes due while nothing runs

      // Act
      const secondStore = await startDynamo();
      const second = scheduler({ store: secondStore });
      await second.start();
      const restored = second.list();
      await until(() => fired.length === 2);
      await second.idle();

      // Assess
      expect(restored).toEqual([
        { name: 'missed', at: expect.any(Date), payload: { late: true } },
        { name: 'broadcast-b1', at: soon, payload: { broadcastId: 'b1', nested: { offset: -300 } } },
      ]);
      expect(fired.map((f) => f.name)).toEqual(['missed', 'broadcast-b1']);
      expect(await secondStore.load()).toEqual([]);
    });

    it('keeps a schedule stored when the scheduler closes while it is failing', async () => {
      // Prepare
      const store = await startDynamo();
      let calls = 0;
      const s = scheduler({
        store,
        retryBaseMs: 30,
        onFire: async () => {
          calls += 1;
          throw new Error('down');
        },
      });
      await s.start();
      await s.scheduleOnce('retry-me', inMs(0), { id: 1 });
      await until(() => calls === 1);

      // Act
      await s.close();

      // Assess
      expect((await store.load()).map((e) => e.name)).toEqual(['retry-me']);
      expect(s.failed()).toEqual([]);
      await expect(s.scheduleOnce('late', inMs(0), {})).rejects.toThrow('local scheduler is closed');
    });
  });
});

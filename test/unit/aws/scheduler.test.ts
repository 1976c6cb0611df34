import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  SchedulerClient,
  ThrottlingException,
  ValidationException,
} from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { EventBridgeScheduler, scheduleName } from '../../../shared/aws/scheduler/scheduler';
import { ManualClock } from '../../helpers/clock';

const schedulerMock = mockClient(SchedulerClient);
const client = new SchedulerClient({ region: 'us-east-1' });
const TARGET = 'arn:aws:lambda:us-east-1:123456789012:function:engage-broadcast-start';
const ROLE = 'arn:aws:iam::123456789012:role/engage-scheduler';
const DLQ = 'arn:aws:sqs:us-east-1:123456789012:engage-scheduler-dlq';
const NOW = '2026-03-01T10:00:00.000Z';

function scheduler(clock = new ManualClock(NOW), extra: { deadLetterArn?: string; groupName?: string } = { deadLetterArn: DLQ }) {
  return new EventBridgeScheduler(client, { targetArn: TARGET, roleArn: ROLE, namePrefix: 'engage', ...extra, clock });
}

const meta = { $metadata: { httpStatusCode: 409 } };

describe('EventBridgeScheduler', () => {
  afterEach(() => {
    schedulerMock.reset();
  });

  describe('scheduleOnce', () => {
    it('creates a one-time UTC schedule, deleted after completion, with the payload as JSON input', async () => {
      // Prepare
      schedulerMock.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn:aws:scheduler:::schedule/default/engage-broadcast-b1' });

      // Act
      await scheduler().scheduleOnce('broadcast-b1', new Date('2026-03-02T09:30:15.250Z'), { broadcastId: 'b1', offset: 0 });

      // Assess
      expect(schedulerMock).toHaveReceivedCommandTimes(CreateScheduleCommand, 1);
      expect(schedulerMock.commandCalls(CreateScheduleCommand)[0]?.args[0].input).toEqual({
        Name: 'engage-broadcast-b1',
        GroupName: 'default',
        ScheduleExpression: 'at(2026-03-02T09:30:16)',
        ScheduleExpressionTimezone: 'UTC',
        FlexibleTimeWindow: { Mode: 'OFF' },
        ActionAfterCompletion: 'DELETE',
        State: 'ENABLED',
        Target: {
          Arn: TARGET,
          RoleArn: ROLE,
          Input: '{"broadcastId":"b1","offset":0}',
          RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 },
          DeadLetterConfig: { Arn: DLQ },
        },
      });
    });

    it('uses the given group and leaves out the dead-letter config when there is none', async () => {
      // Prepare
      schedulerMock.on(CreateScheduleCommand).resolves({});

      // Act
      await scheduler(new ManualClock(NOW), { groupName: 'engage-group' }).scheduleOnce('b2', new Date('2026-04-01T00:00:00Z'), {});

      // Assess
      const input = schedulerMock.commandCalls(CreateScheduleCommand)[0]?.args[0].input;
      expect(input?.GroupName).toBe('engage-group');
      expect(input?.Target).not.toHaveProperty('DeadLetterConfig');
      expect(input?.Target?.Input).toBe('{}');
    });

    it.each([
      ['in the past', '2026-03-01T09:00:00.000Z'],
      ['now', NOW],
      ['30 s ahead', '2026-03-01T10:00:30.000Z'],
    ])('moves a time %s to now + 60 s', async (_label, at) => {
      // Prepare
      schedulerMock.on(CreateScheduleCommand).resolves({});

      // Act
      await scheduler().scheduleOnce('soon', new Date(at), {});

      // Assess
      expect(schedulerMock).toHaveReceivedCommandWith(CreateScheduleCommand, { ScheduleExpression: 'at(2026-03-01T10:01:00)' });
    });

    it('keeps a time more than 60 s ahead', async () => {
      // Prepare
      schedulerMock.on(CreateScheduleCommand).resolves({});

      // Act
      await scheduler().scheduleOnce('later', new Date('2026-03-01T10:01:01.000Z'), {});

      // Assess
      expect(schedulerMock).toHaveReceivedCommandWith(CreateScheduleCommand, { ScheduleExpression: 'at(2026-03-01T10:01:01)' });
    });

    it('treats ConflictException (the schedule exists) as success', async () => {
      // Prepare
      schedulerMock.on(CreateScheduleCommand).rejects(new ConflictException({ message: 'Schedule engage-b1 already exists.', Message: 'Schedule engage-b1 already exists.', ...meta }));

      // Act
      const creating = scheduler().scheduleOnce('b1', new Date('2026-03-02T00:00:00Z'), {});

      // Assess
      await expect(creating).resolves.toBeUndefined();
    });

    it.each([
      ['ThrottlingException', new ThrottlingException({ message: 'slow', Message: 'slow', $metadata: { httpStatusCode: 429 } })],
      ['ValidationException', new ValidationException({ message: 'bad', Message: 'bad', $metadata: { httpStatusCode: 400 } })],
    ])('rethrows %s', async (name, error) => {
      // Prepare
      schedulerMock.on(CreateScheduleCommand).rejects(error);

      // Act
      const creating = scheduler().scheduleOnce('b1', new Date('2026-03-02T00:00:00Z'), {});

      // Assess
      await expect(creating).rejects.toMatchObject({ name });
    });

    it('rejects an invalid date without calling AWS', async () => {
      // Prepare
      const s = scheduler();

      // Act
      const creating = s.scheduleOnce('b1', new Date('not a date'), {});

      // Assess
      await expect(creating).rejects.toThrow(RangeError);
      expect(schedulerMock).not.toHaveReceivedCommand(CreateScheduleCommand);
    });
  });

  describe('cancel', () => {
    it('deletes the schedule of that name in the group', async () => {
      // Prepare
      schedulerMock.on(DeleteScheduleCommand).resolves({});

      // Act
      await scheduler().cancel('broadcast-b1');

      // Assess
      expect(schedulerMock).toHaveReceivedCommandWith(DeleteScheduleCommand, { Name: 'engage-broadcast-b1', GroupName: 'default' });
    });

    it('treats ResourceNotFoundException (fired, cancelled or never created) as success', async () => {
      // Prepare
      schedulerMock.on(DeleteScheduleCommand).rejects(new ResourceNotFoundException({ message: 'not found', Message: 'not found', $metadata: { httpStatusCode: 404 } }));

      // Act
      const cancelling = scheduler().cancel('gone');

      // Assess
      await expect(cancelling).resolves.toBeUndefined();
    });

    it('rethrows other errors', async () => {
      // Prepare
      schedulerMock.on(DeleteScheduleCommand).rejects(new ThrottlingException({ message: 'slow', Message: 'slow', $metadata: { httpStatusCode: 429 } }));

      // Act
      const cancelling = scheduler().cancel('b1');

      // Assess
      await expect(cancelling).rejects.toMatchObject({ name: 'ThrottlingException' });
    });
  });

  describe('scheduleName', () => {
    it('keeps a short valid name readable', () => {
      // Prepare + Act
      const name = scheduleName('engage', 'broadcast-b1.tz_0530');

      // Assess
      expect(name).toBe('engage-broadcast-b1.tz_0530');
    });

    it('hashes a name that is too long or has other characters into at most 64 valid characters', () => {
      // Prepare
      const long = `broadcast-${'x'.repeat(80)}`;
      const odd = 'broadcast:b1#+05:30';

      // Act
      const names = [scheduleName('engage', long), scheduleName('engage', `${long}y`), scheduleName('engage', odd), scheduleName('p'.repeat(32), long)];

      // Assess
      for (const name of names) {
        expect(name.length).toBeLessThanOrEqual(64);
        expect(name).toMatch(/^[0-9A-Za-z_.-]+-[0-9a-f]{16}$/);
      }
      expect(names[0]).not.toBe(names[1]);
      expect(names[2]).toMatch(/^engage-broadcast_b1__05_30-[0-9a-f]{16}$/);
      expect(scheduleName('engage', odd)).toBe(names[2]);
      expect(scheduleName('engage', 'broadcast_b1__05_30')).not.toBe(names[2]);
    });

    it('uses the same name to cancel as to create', async () => {
      // Prepare
      schedulerMock.on(CreateScheduleCommand).resolves({});
      schedulerMock.on(DeleteScheduleCommand).resolves({});
      const s = scheduler();
      const name = `journey:${'j'.repeat(70)}`;

      // Act
      await s.scheduleOnce(name, new Date('2026-03-02T00:00:00Z'), {});
      await s.cancel(name);

      // Assess
      const created = schedulerMock.commandCalls(CreateScheduleCommand)[0]?.args[0].input.Name;
      const deleted = schedulerMock.commandCalls(DeleteScheduleCommand)[0]?.args[0].input.Name;
      expect(created).toBeDefined();
      expect(deleted).toBe(created);
    });

    it('refuses a prefix that would not fit', () => {
      // Prepare
      const build = (namePrefix: string) => () => new EventBridgeScheduler(client, { targetArn: TARGET, roleArn: ROLE, namePrefix });

      // Act + Assess
      expect(build('')).toThrow(RangeError);
      expect(build('has space')).toThrow(RangeError);
      expect(build('p'.repeat(33))).toThrow(RangeError);
    });
  });
});

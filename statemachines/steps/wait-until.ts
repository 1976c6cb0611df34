import type { WaitUntilStep } from '../../shared/domain/journey/definition';
import { weekdayLabel } from '../naming';
import { dataPath, LAMBDA_INVOKE, LAMBDA_RETRY, runFields, type EmitContext, type StateSpec } from './common';

/** `09:00 (user's time zone)`, `Mon, Thu 09:00 (Europe/Paris)`. */
export function waitUntilLabel(step: WaitUntilStep): string {
  const days = step.weekdays === undefined ? '' : `${step.weekdays.map(weekdayLabel).join(', ')} `;
  const zone = step.timezone === 'user' ? "user's time zone" : step.timezone;
  return `${days}${step.time} (${zone})`;
}

/**
 * `wait_until` → a Lambda task that finds the next occurrence of the wall-clock time (time
 * zones and weekdays need luxon and, for `"timezone": "user"`, the profile's `timezone`
 * trait), then a native `Wait` on `TimestampPath`.
 *
 * The function receives `{journeyId, version, stepId, executionName, userId, time, timezone,
 * weekdays?}` and returns `{"timestamp": "<ISO-8601 instant>"}`, stored at
 * `$.waitUntil.<stepId>.timestamp`.
 */
export function emitWaitUntil(step: WaitUntilStep, ctx: EmitContext): StateSpec[] {
  const label = waitUntilLabel(step);
  const path = dataPath('waitUntil', ctx.stepId);
  return [
    {
      key: 'find',
      label: `Find next ${label}`,
      build: (links) => ({
        Type: 'Task',
        Comment: ctx.comment,
        Resource: LAMBDA_INVOKE,
        Parameters: {
          FunctionName: ctx.resources.waitUntilFunctionArn,
          Payload: {
            ...runFields(ctx),
            time: step.time,
            timezone: step.timezone,
            ...(step.weekdays === undefined ? {} : { weekdays: [...step.weekdays] }),
          },
        },
        ResultSelector: { 'timestamp.$': '$.Payload.timestamp' },
        ResultPath: path,
        Retry: LAMBDA_RETRY,
        Next: links.own('wait'),
      }),
    },
    {
      key: 'wait',
      label: `Wait until ${label}`,
      build: (links) => ({ Type: 'Wait', Comment: ctx.comment, TimestampPath: `${path}.timestamp`, Next: links.step(step.next) }),
    },
  ];
}

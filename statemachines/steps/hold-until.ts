import { durationSeconds, type HoldUntilStep } from '../../shared/domain/journey/definition';
import { humanDuration } from '../naming';
import { dataPath, LAMBDA_INVOKE_WAIT_FOR_TOKEN, LAMBDA_RETRY, runFields, type EmitContext, type StateSpec } from './common';

/**
 * `hold_until` → one Lambda task with `.waitForTaskToken`: the function stores the task token
 * under the profile and returns; the run resumes on `SendTaskSuccess` when the evaluator sees
 * the awaited event (→ `next`), or `TimeoutSeconds` raises `States.Timeout`, caught (→
 * `timeoutNext`). The timeout error lands in `$.hold.<stepId>`; a resume's output is dropped.
 *
 * Payload: `{taskToken, journeyId, version, stepId, executionName, userId, event, match?,
 * entry, timeoutSeconds}`. `match` lists the property names only, with the whole entry event
 * beside them: the function reads `entry.properties[key]`. Paths to each value
 * (`$.entry.properties.cartId`) would fail the run with an uncatchable `States.Runtime` error
 * whenever an entry event lacks one of them.
 */
export function emitHoldUntil(step: HoldUntilStep, ctx: EmitContext): StateSpec[] {
  const timeoutSeconds = durationSeconds(step.timeout);
  const sameAs = step.match === undefined ? '' : ` with same ${step.match.join(', ')}`;
  return [
    {
      key: 'hold',
      label: `Hold until ${step.event}${sameAs} (${humanDuration(step.timeout)})`,
      build: (links) => ({
        Type: 'Task',
        Comment: ctx.comment,
        Resource: LAMBDA_INVOKE_WAIT_FOR_TOKEN,
        Parameters: {
          FunctionName: ctx.resources.holdUntilFunctionArn,
          Payload: {
            'taskToken.$': '$$.Task.Token',
            ...runFields(ctx),
            event: step.event,
            ...(step.match === undefined ? {} : { match: [...step.match] }),
            'entry.$': '$.entry',
            timeoutSeconds,
          },
        },
        TimeoutSeconds: timeoutSeconds,
        ResultPath: null,
        Retry: LAMBDA_RETRY,
        Catch: [{ ErrorEquals: ['States.Timeout'], ResultPath: dataPath('hold', ctx.stepId), Next: links.step(step.timeoutNext) }],
        Next: links.step(step.next),
      }),
    },
  ];
}

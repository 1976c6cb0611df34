import type { SendStep } from '../../shared/domain/journey/definition';
import { runFields, SQS_RETRY, SQS_SEND_MESSAGE, type EmitContext, type StateSpec } from './common';

/**
 * `send` → the SQS service integration puts one message on the send queue (the pipeline
 * broadcasts use; no Lambda in the state machine). The body is a JSON object, which Step
 * Functions serialises: `{kind: 'journey', journeyId, version, stepId, executionName,
 * userId, profile, templateId, channel, entry}` (`profile` is the run's profile key). `executionName` + `stepId` identify the send, so a retried `SendMessage`
 * sends once.
 */
export function emitSend(step: SendStep, ctx: EmitContext): StateSpec[] {
  const channel = step.channel === 'sms' ? 'SMS' : 'email';
  return [
    {
      key: 'send',
      label: `Send ${channel}: ${ctx.templateName(step.template)}`,
      build: (links) => ({
        Type: 'Task',
        Comment: ctx.comment,
        Resource: SQS_SEND_MESSAGE,
        Parameters: {
          QueueUrl: ctx.resources.sendQueueUrl,
          MessageBody: { kind: 'journey', ...runFields(ctx), templateId: step.template, channel: step.channel, 'entry.$': '$.entry' },
        },
        ResultPath: null,
        Retry: SQS_RETRY,
        Next: links.step(step.next),
      }),
    },
  ];
}

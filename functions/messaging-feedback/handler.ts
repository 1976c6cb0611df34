import { z } from 'zod';
import { applySesEvent, SesEventSchema } from '../../shared/services/messaging/feedback';
import { sqsHandler } from '../lib/sqs';
import { getServices } from '../lib/wiring';

/** An EventBridge event (source aws.ses) as an EventBridge → SQS rule delivers it. */
const FeedbackEnvelopeSchema = z.object({ source: z.literal('aws.ses'), detail: SesEventSchema });

/** Delivery feedback from SES (configuration set → EventBridge → SQS): statuses, counts, suppression. */
export const handler = sqsHandler('feedback', FeedbackEnvelopeSchema, async (envelope) => {
  const services = getServices();
  await applySesEvent(services, envelope.detail, services.clock.now().toISOString());
});

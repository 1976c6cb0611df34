import { z } from 'zod';
import { applyDeliveryFact, sesFact, SesEventSchema, smsFact, SmsEventSchema } from '../../shared/services/messaging/feedback';
import { sqsHandler } from '../lib/sqs';
import { getServices } from '../lib/wiring';

/** EventBridge events (SES through the configuration set; End User Messaging SMS directly), as an EventBridge → SQS rule delivers them. */
const FeedbackEnvelopeSchema = z.discriminatedUnion('source', [
  z.object({ source: z.literal('aws.ses'), detail: SesEventSchema }),
  z.object({ source: z.literal('aws.sms-voice'), detail: SmsEventSchema }),
]);

/** Delivery feedback: message statuses, broadcast counts, suppression. */
export const handler = sqsHandler('feedback', FeedbackEnvelopeSchema, async (envelope) => {
  const services = getServices();
  const fact = envelope.source === 'aws.ses' ? sesFact(envelope.detail) : smsFact(envelope.detail);
  await applyDeliveryFact(services, fact, services.clock.now().toISOString());
});

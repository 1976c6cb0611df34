import type { Queue, SendReceipt, SmsMessage, SmsSender } from '../../shared/ports';

/**
 * The local stand-in for End User Messaging's delivery events to EventBridge: every SMS the
 * local outbox accepts produces TEXT_SUCCESSFUL then TEXT_DELIVERED (in the shape of the
 * `aws.sms-voice` event, with the sender's context) on the local feedback queue.
 */
export class LocalSmsEvents implements SmsSender {
  constructor(
    private readonly inner: SmsSender,
    private readonly queue: Queue,
  ) {}

  async sendSms(message: SmsMessage): Promise<SendReceipt> {
    const receipt = await this.inner.sendSms(message);
    const detail = (eventType: string) => ({ eventType, messageId: receipt.providerMessageId, destinationPhoneNumber: message.to, context: message.tags });
    const events = ['TEXT_SUCCESSFUL', 'TEXT_DELIVERED'].map((type) => ({ body: { source: 'aws.sms-voice', 'detail-type': 'Text Message Delivery Status Updated', detail: detail(type) } }));
    // Best effort, as for the provider: a lost event must never make the sender send again.
    await this.queue.send('feedback', events).catch((error: unknown) => console.error(`local SMS events not queued: ${error instanceof Error ? error.name : 'unknown'}`));
    return receipt;
  }
}

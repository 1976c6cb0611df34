import type { EmailMessage, Mailer, Queue, SendReceipt } from '../../shared/ports';

/** SES's mailbox simulator addresses: the local SES answers them as SES does. */
const BOUNCE = /^bounce(\+[^@]*)?@simulator\.amazonses\.com$/i;
const COMPLAINT = /^complaint(\+[^@]*)?@simulator\.amazonses\.com$/i;

/**
 * The local stand-in for "configuration set → EventBridge → SQS": aws-ses-v2-local accepts
 * mail but publishes no events, so every accepted mail produces the events SES would send —
 * Send, then Delivery (or a permanent Bounce for bounce@simulator.amazonses.com, a Complaint
 * for complaint@simulator.amazonses.com) — on the local feedback queue, in the shape of the
 * EventBridge event (`source: aws.ses`). They are SES's events, not the sender's: they are
 * published even if the sender dies right after the provider accepted.
 */
export class LocalSesEvents implements Mailer {
  constructor(
    private readonly inner: Mailer,
    private readonly queue: Queue,
    private readonly configurationSetName = 'engage-local',
  ) {}

  async sendEmail(message: EmailMessage): Promise<SendReceipt> {
    const receipt = await this.inner.sendEmail(message);
    const timestamp = new Date().toISOString();
    const tags: Record<string, string[]> = { 'ses:configuration-set': [this.configurationSetName] };
    for (const [name, value] of Object.entries(message.tags)) tags[name] = [value];
    const mail = { messageId: receipt.providerMessageId, timestamp, destination: [message.to], tags };
    const details: Array<Record<string, unknown>> = [{ eventType: 'Send', mail }];
    if (BOUNCE.test(message.to)) {
      details.push({ eventType: 'Bounce', mail, bounce: { bounceType: 'Permanent', bouncedRecipients: [{ emailAddress: message.to }] } });
    } else {
      details.push({ eventType: 'Delivery', mail });
      if (COMPLAINT.test(message.to)) details.push({ eventType: 'Complaint', mail, complaint: { complainedRecipients: [{ emailAddress: message.to }] } });
    }
    const events = details.map((detail) => ({ body: { source: 'aws.ses', 'detail-type': `Email ${String(detail.eventType)}`, detail } }));
    // Best effort, as it is for SES: a lost event must never make the sender send again.
    await this.queue.send('feedback', events).catch((error: unknown) => console.error(`local SES events not queued: ${error instanceof Error ? error.name : 'unknown'}`));
    return receipt;
  }
}

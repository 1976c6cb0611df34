import {
  AccountSuspendedException,
  BadRequestException,
  InternalServiceErrorException,
  LimitExceededException,
  MailFromDomainNotVerifiedException,
  MessageRejected,
  NotFoundException,
  SESv2Client,
  SendEmailCommand,
  SendingPausedException,
  TooManyRequestsException,
} from '@aws-sdk/client-sesv2';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { SesMailer, sesEmailTags } from '../../../shared/aws/ses/mailer';
import { PermanentSendError, type EmailMessage } from '../../../shared/ports';

const sesMock = mockClient(SESv2Client);
const client = new SESv2Client({ region: 'us-east-1' });
const TO = 'ada.lovelace@example.com';
const FROM = 'News <news@engage.example>';

function message(overrides: Partial<EmailMessage> = {}): EmailMessage {
  return {
    to: TO,
    from: FROM,
    subject: 'Hello Ada',
    html: '<p>Hi Ada</p>',
    text: 'Hi Ada',
    headers: [
      { name: 'List-Unsubscribe', value: '<https://api.example/v1/unsubscribe?token=t>' },
      { name: 'List-Unsubscribe-Post', value: 'List-Unsubscribe=One-Click' },
    ],
    tags: { broadcastId: 'b-1', messageId: 'm_2' },
    ...overrides,
  };
}

const meta = { $metadata: { httpStatusCode: 400, requestId: 'req-1' } };
const ERROR_TABLE: Array<[string, 'permanent' | 'transient', () => Error]> = [
  ['BadRequestException', 'permanent', () => new BadRequestException({ message: `Illegal address ${TO}`, ...meta })],
  ['MessageRejected', 'permanent', () => new MessageRejected({ message: `Email address is not verified: ${TO}`, ...meta })],
  ['MailFromDomainNotVerifiedException', 'transient', () => new MailFromDomainNotVerifiedException({ message: 'mail from', ...meta })],
  ['AccountSuspendedException', 'transient', () => new AccountSuspendedException({ message: 'suspended', ...meta })],
  ['SendingPausedException', 'transient', () => new SendingPausedException({ message: 'paused', ...meta })],
  ['NotFoundException', 'transient', () => new NotFoundException({ message: 'configuration set', ...meta })],
  ['TooManyRequestsException', 'transient', () => new TooManyRequestsException({ message: 'slow down', $metadata: { httpStatusCode: 429 } })],
  ['LimitExceededException', 'transient', () => new LimitExceededException({ message: 'quota', ...meta })],
  ['InternalServiceErrorException', 'transient', () => new InternalServiceErrorException({ message: 'oops', $metadata: { httpStatusCode: 500 } })],
];

describe('SesMailer', () => {
  afterEach(() => {
    sesMock.reset();
  });

  describe('when SES accepts the message', () => {
    it('sends Simple content with UTF-8 parts, headers, the configuration set and sanitised tags', async () => {
      // Prepare
      sesMock.on(SendEmailCommand).resolves({ MessageId: 'ses-123' });
      const mailer = new SesMailer(client, { configurationSetName: 'engage-events' });

      // Act
      const receipt = await mailer.sendEmail(message({ tags: { broadcastId: 'b-1', 'journey.id': 'j:1', empty: '' } }));

      // Assess
      expect(receipt).toEqual({ providerMessageId: 'ses-123' });
      expect(sesMock).toHaveReceivedCommandTimes(SendEmailCommand, 1);
      expect(sesMock.commandCalls(SendEmailCommand)[0]?.args[0].input).toEqual({
        FromEmailAddress: FROM,
        Destination: { ToAddresses: [TO] },
        Content: {
          Simple: {
            Subject: { Data: 'Hello Ada', Charset: 'UTF-8' },
            Body: { Html: { Data: '<p>Hi Ada</p>', Charset: 'UTF-8' }, Text: { Data: 'Hi Ada', Charset: 'UTF-8' } },
            Headers: [
              { Name: 'List-Unsubscribe', Value: '<https://api.example/v1/unsubscribe?token=t>' },
              { Name: 'List-Unsubscribe-Post', Value: 'List-Unsubscribe=One-Click' },
            ],
          },
        },
        ConfigurationSetName: 'engage-events',
        EmailTags: [
          { Name: 'broadcastId', Value: 'b-1' },
          { Name: 'journey_id', Value: 'j_1' },
        ],
      });
    });

    it('leaves out what is empty: configuration set, tags, headers and an empty body part', async () => {
      // Prepare
      sesMock.on(SendEmailCommand).resolves({ MessageId: 'ses-9' });
      const mailer = new SesMailer(client, { configurationSetName: ' ' });

      // Act
      await mailer.sendEmail(message({ html: '', headers: [], tags: {} }));

      // Assess
      const input = sesMock.commandCalls(SendEmailCommand)[0]?.args[0].input;
      expect(input?.Content?.Simple).toEqual({ Subject: { Data: 'Hello Ada', Charset: 'UTF-8' }, Body: { Text: { Data: 'Hi Ada', Charset: 'UTF-8' } } });
      expect(input).not.toHaveProperty('ConfigurationSetName');
      expect(input).not.toHaveProperty('EmailTags');
    });
  });

  describe('sesEmailTags', () => {
    it('keeps [A-Za-z0-9_-], cuts to 256 characters, drops empty and colliding names, keeps at most 50', () => {
      // Prepare
      const many = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`t${i}`, 'v']));
      const long = 'x'.repeat(300);

      // Act
      const sanitised = sesEmailTags({ 'a b': 'ü/1', a_b: 'second', '': 'x', blank: '', [long]: long, 'ok-1': 'Z_9-z' });
      const capped = sesEmailTags(many);

      // Assess
      expect(sanitised).toEqual([
        { Name: 'a_b', Value: '__1' },
        { Name: 'x'.repeat(256), Value: 'x'.repeat(256) },
        { Name: 'ok-1', Value: 'Z_9-z' },
      ]);
      expect(capped).toHaveLength(50);
      expect(capped[49]).toEqual({ Name: 't49', Value: 'v' });
    });
  });

  describe('when SES refuses', () => {
    it.each(ERROR_TABLE)('maps %s to a %s failure without the address in the error', async (name, outcome, make) => {
      // Prepare
      sesMock.on(SendEmailCommand).rejects(make());
      const mailer = new SesMailer(client);

      // Act
      const error: unknown = await mailer.sendEmail(message()).then(
        () => undefined,
        (e: unknown) => e,
      );

      // Assess
      expect(error).toBeInstanceOf(Error);
      const thrown = error as Error;
      if (outcome === 'permanent') {
        expect(thrown).toBeInstanceOf(PermanentSendError);
        expect(thrown.message).toBe(`SES refused the message for this recipient (${name})`);
        expect((thrown.cause as Error).name).toBe(name);
      } else {
        expect(thrown).not.toBeInstanceOf(PermanentSendError);
        expect(thrown.name).toBe(name);
        expect(thrown.message).toMatch(new RegExp(`^SES SendEmail failed: ${name} \\(HTTP \\d{3}`));
      }
      const everything = `${thrown.message} ${String((thrown.cause as Error | undefined)?.message)} ${thrown.stack ?? ''}`;
      expect(everything).not.toContain(TO);
      expect(everything).not.toContain('Hi Ada');
    });

    it('treats MessageRejected about the unverified sender as an account problem (retried)', async () => {
      // Prepare
      sesMock.on(SendEmailCommand).rejects(
        new MessageRejected({ message: 'Email address is not verified. The following identities failed the check in region US-EAST-1: news@engage.example', ...meta }),
      );
      const mailer = new SesMailer(client);

      // Act
      const sending = mailer.sendEmail(message());

      // Assess
      await expect(sending).rejects.toThrow('SES SendEmail failed: MessageRejected (HTTP 400, request req-1)');
      await expect(sending).rejects.not.toBeInstanceOf(PermanentSendError);
    });

    it('keeps MessageRejected about a recipient of the sender\'s own domain permanent', async () => {
      // Prepare
      sesMock.on(SendEmailCommand).rejects(
        new MessageRejected({ message: 'Email address is not verified. The following identities failed the check in region US-EAST-1: colleague@engage.example', ...meta }),
      );
      const mailer = new SesMailer(client);

      // Act
      const sending = mailer.sendEmail(message({ to: 'colleague@engage.example' }));

      // Assess
      await expect(sending).rejects.toBeInstanceOf(PermanentSendError);
    });

    it('rethrows a network error as a transient error of the same name', async () => {
      // Prepare
      const network = Object.assign(new Error(`connect ECONNREFUSED while sending to ${TO}`), { name: 'TimeoutError' });
      sesMock.on(SendEmailCommand).rejects(network);
      const mailer = new SesMailer(client);

      // Act
      const sending = mailer.sendEmail(message());

      // Assess
      await expect(sending).rejects.toMatchObject({ name: 'TimeoutError', message: 'SES SendEmail failed: TimeoutError' });
    });
  });
});

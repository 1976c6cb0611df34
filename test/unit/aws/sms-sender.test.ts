import {
  AccessDeniedException,
  ConflictException,
  InternalServerException,
  PinpointSMSVoiceV2Client,
  ResourceNotFoundException,
  SendTextMessageCommand,
  ServiceQuotaExceededException,
  ThrottlingException,
  ValidationException,
  type ConflictExceptionReason,
  type ValidationExceptionReason,
} from '@aws-sdk/client-pinpoint-sms-voice-v2';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { EndUserMessagingSmsSender, smsContext } from '../../../shared/aws/sms/sms-sender';
import { PermanentSendError, type SmsMessage } from '../../../shared/ports';

const smsMock = mockClient(PinpointSMSVoiceV2Client);
const client = new PinpointSMSVoiceV2Client({ region: 'us-east-1' });
const TO = '+14155550123';
const ORIGIN = 'arn:aws:sms-voice:us-east-1:123456789012:phone-number/phone-1';

function sms(overrides: Partial<SmsMessage> = {}): SmsMessage {
  return { to: TO, body: 'Your cart misses you, Ada', tags: { broadcastId: 'b-1', messageId: 'm-1' }, ...overrides };
}

const meta = { $metadata: { httpStatusCode: 400, requestId: 'req-7' } };
const validation = (Reason: ValidationExceptionReason, fields: string[] = []) => () =>
  new ValidationException({ message: `Invalid destination ${TO}`, Reason, Fields: fields.map((Name) => ({ Name, Message: `bad ${TO}` })), ...meta });
const conflict = (Reason: ConflictExceptionReason) => () => new ConflictException({ message: `Conflict for ${TO}`, Reason, ...meta });

const ERROR_TABLE: Array<[string, 'permanent' | 'transient', () => Error]> = [
  ['ValidationException CANNOT_PARSE', 'permanent', validation('CANNOT_PARSE')],
  ['ValidationException DESTINATION_COUNTRY_BLOCKED', 'permanent', validation('DESTINATION_COUNTRY_BLOCKED')],
  ['ValidationException INVALID_IDENTITY_FOR_DESTINATION_COUNTRY', 'permanent', validation('INVALID_IDENTITY_FOR_DESTINATION_COUNTRY')],
  ['ValidationException MAXIMUM_SIZE_EXCEEDED', 'permanent', validation('MAXIMUM_SIZE_EXCEEDED')],
  ['ValidationException FIELD_VALIDATION_FAILED on DestinationPhoneNumber', 'permanent', validation('FIELD_VALIDATION_FAILED', ['DestinationPhoneNumber'])],
  ['ValidationException FIELD_VALIDATION_FAILED on OriginationIdentity', 'transient', validation('FIELD_VALIDATION_FAILED', ['OriginationIdentity'])],
  ['ValidationException INVALID_ARN', 'transient', validation('INVALID_ARN')],
  ['ValidationException RESOURCE_NOT_ACCESSIBLE', 'transient', validation('RESOURCE_NOT_ACCESSIBLE')],
  ['ConflictException DESTINATION_PHONE_NUMBER_OPTED_OUT', 'permanent', conflict('DESTINATION_PHONE_NUMBER_OPTED_OUT')],
  ['ConflictException DESTINATION_PHONE_NUMBER_NOT_VERIFIED', 'permanent', conflict('DESTINATION_PHONE_NUMBER_NOT_VERIFIED')],
  ['ConflictException RESOURCE_NOT_ACTIVE', 'transient', conflict('RESOURCE_NOT_ACTIVE')],
  ['ThrottlingException', 'transient', () => new ThrottlingException({ message: 'slow', $metadata: { httpStatusCode: 429 } })],
  ['ServiceQuotaExceededException', 'transient', () => new ServiceQuotaExceededException({ message: 'spend', Reason: 'MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT', ...meta })],
  ['AccessDeniedException', 'transient', () => new AccessDeniedException({ message: 'denied', Reason: 'ACCOUNT_DISABLED', ...meta })],
  ['ResourceNotFoundException', 'transient', () => new ResourceNotFoundException({ message: 'no such number', ...meta })],
  ['InternalServerException', 'transient', () => new InternalServerException({ message: 'oops', $metadata: { httpStatusCode: 500 } })],
];

describe('EndUserMessagingSmsSender', () => {
  afterEach(() => {
    smsMock.reset();
  });

  describe('when the provider accepts the message', () => {
    it('sends the number, origination identity, body, message type, configuration set and tags as Context', async () => {
      // Prepare
      smsMock.on(SendTextMessageCommand).resolves({ MessageId: 'sms-1' });
      const sender = new EndUserMessagingSmsSender(client, { originationIdentity: ORIGIN, configurationSetName: 'engage-sms', messageType: 'TRANSACTIONAL' });

      // Act
      const receipt = await sender.sendSms(sms());

      // Assess
      expect(receipt).toEqual({ providerMessageId: 'sms-1' });
      expect(smsMock).toHaveReceivedCommandTimes(SendTextMessageCommand, 1);
      expect(smsMock.commandCalls(SendTextMessageCommand)[0]?.args[0].input).toEqual({
        DestinationPhoneNumber: TO,
        OriginationIdentity: ORIGIN,
        MessageBody: 'Your cart misses you, Ada',
        MessageType: 'TRANSACTIONAL',
        ConfigurationSetName: 'engage-sms',
        Context: { broadcastId: 'b-1', messageId: 'm-1' },
      });
    });

    it('defaults to PROMOTIONAL and leaves out an absent configuration set and empty tags', async () => {
      // Prepare
      smsMock.on(SendTextMessageCommand).resolves({ MessageId: 'sms-2' });
      const sender = new EndUserMessagingSmsSender(client, { originationIdentity: ORIGIN });

      // Act
      await sender.sendSms(sms({ tags: {} }));

      // Assess
      expect(smsMock.commandCalls(SendTextMessageCommand)[0]?.args[0].input).toEqual({
        DestinationPhoneNumber: TO,
        OriginationIdentity: ORIGIN,
        MessageBody: 'Your cart misses you, Ada',
        MessageType: 'PROMOTIONAL',
      });
    });
  });

  it('refuses to be built without an origination identity', () => {
    // Prepare
    const build = () => new EndUserMessagingSmsSender(client, { originationIdentity: '  ' });

    // Act + Assess
    expect(build).toThrow('SMS is not configured (engage:smsOriginationIdentity)');
  });

  describe('smsContext', () => {
    it('replaces white space, cuts keys to 100 and values to 800 characters, drops empty ones, keeps 5', () => {
      // Prepare
      const tags = { 'a b': 'x y', empty: '', ['k'.repeat(120)]: 'v'.repeat(900), c: '1', d: '2', e: '3', f: '4' };

      // Act
      const context = smsContext(tags);

      // Assess
      expect(context).toEqual({ a_b: 'x_y', ['k'.repeat(100)]: 'v'.repeat(800), c: '1', d: '2', e: '3' });
    });
  });

  describe('when the provider refuses', () => {
    it.each(ERROR_TABLE)('maps %s to a %s failure without the number in the error', async (label, outcome, make) => {
      // Prepare
      smsMock.on(SendTextMessageCommand).rejects(make());
      const sender = new EndUserMessagingSmsSender(client, { originationIdentity: ORIGIN });
      const [name, reason] = label.split(' ');

      // Act
      const error: unknown = await sender.sendSms(sms()).then(
        () => undefined,
        (e: unknown) => e,
      );

      // Assess
      expect(error).toBeInstanceOf(Error);
      const thrown = error as Error;
      if (outcome === 'permanent') {
        expect(thrown).toBeInstanceOf(PermanentSendError);
        expect(thrown.message).toBe(`SMS refused for this recipient (${name}: ${reason})`);
        expect((thrown.cause as Error).name).toBe(name);
      } else {
        expect(thrown).not.toBeInstanceOf(PermanentSendError);
        expect(thrown.name).toBe(name);
        expect(thrown.message).toMatch(new RegExp(`^SMS SendTextMessage failed: ${name} \\(HTTP \\d{3}`));
      }
      const everything = `${thrown.message} ${String((thrown.cause as Error | undefined)?.message)}`;
      expect(everything).not.toContain(TO);
      expect(everything).not.toContain('Ada');
    });
  });
});

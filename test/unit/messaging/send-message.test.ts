import { SendMessageSchema } from '../../../shared/services/messaging/send-message';

/** The body a compiled send step puts on the queue (statemachines/steps/send.ts), as Step Functions serialises it. */
const JOURNEY_MESSAGE = {
  kind: 'journey',
  journeyId: 'j_cart',
  version: 3,
  stepId: 'email',
  executionName: 'j_cart-3-abc-once',
  userId: 'u_1',
  profile: 'USER#u_1',
  templateId: 'tpl_0123456789abcdef',
  channel: 'email',
  entry: { event: 'Cart Abandoned', messageId: 'm_1', properties: { cartId: 'c_9' }, timestamp: '2026-03-01T10:00:00.000Z' },
};

const BROADCAST_MESSAGE = { kind: 'broadcast', broadcastId: 'brd_0123456789abcdef', shard: 3, profile: 'USER#u_1' };

describe('SendMessageSchema', () => {
  describe('when the message is a journey send step', () => {
    it.each([
      ['an event entry', JOURNEY_MESSAGE.entry],
      ['an audience entry', { audience: 'aud_0123456789abcdef', enteredAt: '2026-03-01T10:00:00.000Z' }],
      ['a manual entry', { manual: true, at: '2026-03-01T10:00:00.000Z' }],
    ])('returns it parsed, with %s kept as sent', (_name, entry) => {
      // Act
      const parsed = SendMessageSchema.safeParse({ ...JOURNEY_MESSAGE, entry });

      // Assess
      expect(parsed.success).toBe(true);
      expect(parsed.data).toEqual({ ...JOURNEY_MESSAGE, entry });
    });

    it('returns an anonymous run (null userId, ANON# profile) parsed', () => {
      const parsed = SendMessageSchema.safeParse({ ...JOURNEY_MESSAGE, userId: null, profile: 'ANON#a_1', channel: 'sms' });
      expect(parsed.success).toBe(true);
    });
  });

  describe('when a journey message is malformed', () => {
    const without = (field: keyof typeof JOURNEY_MESSAGE) => {
      const copy: Record<string, unknown> = structuredClone(JOURNEY_MESSAGE);
      delete copy[field];
      return copy;
    };

    it.each([
      ['no executionName', without('executionName'), 'executionName'],
      ['an empty executionName', { ...JOURNEY_MESSAGE, executionName: '' }, 'executionName'],
      ['no stepId', without('stepId'), 'stepId'],
      ['no journeyId', without('journeyId'), 'journeyId'],
      ['no templateId', without('templateId'), 'templateId'],
      ['no entry', without('entry'), 'entry'],
      ['an entry that is not an object', { ...JOURNEY_MESSAGE, entry: 'Cart Abandoned' }, 'entry'],
      ['a channel that does not exist', { ...JOURNEY_MESSAGE, channel: 'push' }, 'channel'],
      ['a profile that is not a profile key', { ...JOURNEY_MESSAGE, profile: 'SEND#brd_1#3' }, 'profile'],
      ['a version that is not a number', { ...JOURNEY_MESSAGE, version: '3' }, 'version'],
    ])('refuses one with %s, naming the field', (_name, message, field) => {
      // Act
      const parsed = SendMessageSchema.safeParse(message);

      // Assess
      expect(parsed.success).toBe(false);
      expect(parsed.error?.issues.map((i) => i.path.join('.'))).toContain(field);
    });
  });

  describe('when the message is a broadcast recipient', () => {
    it('returns it parsed as before', () => {
      expect(SendMessageSchema.parse({ ...BROADCAST_MESSAGE, notBefore: '2026-03-01T10:00:00.000Z' })).toEqual({ ...BROADCAST_MESSAGE, notBefore: '2026-03-01T10:00:00.000Z' });
    });

    it('refuses one without a shard', () => {
      expect(SendMessageSchema.safeParse({ ...BROADCAST_MESSAGE, shard: undefined }).success).toBe(false);
    });
  });

  describe('when the kind is unknown or missing', () => {
    it.each([
      ['an unknown kind', { ...JOURNEY_MESSAGE, kind: 'campaign' }],
      ['no kind', { ...BROADCAST_MESSAGE, kind: undefined }],
      ['not an object', 'hello'],
      ['null', null],
    ])('refuses %s', (_name, message) => {
      expect(SendMessageSchema.safeParse(message).success).toBe(false);
    });
  });
});

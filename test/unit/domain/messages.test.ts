import { PayloadTooLargeError, ValidationError } from '../../../shared/errors';
import { MAX_BATCH_MESSAGES, parseBatch, parseSingle, type MessageType } from '../../../shared/domain/ingestion/messages';

const NOW = '2026-11-29T12:00:00.000Z';

function issuesOf(fn: () => unknown): Array<{ path: string; message: string }> {
  try {
    fn();
  } catch (error) {
    if (error instanceof ValidationError) return error.issues ?? [];
    throw error;
  }
  throw new Error('expected a ValidationError');
}

describe('parseSingle', () => {
  describe('when the message is valid', () => {
    it('normalises a track call', () => {
      // Act
      const m = parseSingle('track', { userId: 'u1', event: 'Order Completed', properties: { total: 3 }, messageId: 'm1', timestamp: '2026-11-29T13:00:00+01:00' }, NOW);
      // Assess
      expect(m).toMatchObject({ type: 'track', userId: 'u1', event: 'Order Completed', properties: { total: 3 }, messageId: 'm1', timestamp: '2026-11-29T12:00:00.000Z', receivedAt: NOW });
    });

    it('defaults the timestamp to the receipt time and generates a messageId', () => {
      const m = parseSingle('identify', { anonymousId: 'a1' }, NOW);
      expect(m.timestamp).toBe(NOW);
      expect(m.messageId).toMatch(/^engage-/);
      expect(m.traits).toEqual({});
    });

    it.each([
      ['page', 'Page Viewed'],
      ['screen', 'Screen Viewed'],
    ] as const)('stores a %s call as %s with name and category in the properties', (type, event) => {
      const m = parseSingle(type, { userId: 'u1', name: 'Pricing', category: 'Docs', properties: { path: '/p' } }, NOW);
      expect(m.event).toBe(event);
      expect(m.properties).toEqual({ path: '/p', name: 'Pricing', category: 'Docs' });
    });

    it('accepts numeric ids as strings, as Segment does', () => {
      expect(parseSingle('track', { userId: 42, event: 'X' }, NOW).userId).toBe('42');
    });

    it('accepts valid reserved traits and null to clear them', () => {
      const m = parseSingle('identify', { userId: 'u', traits: { email: 'a@b.co', phone: '+14155550123', timezone: 'Europe/Paris', firstName: 'A', plan: 'pro', email2: 'x' } }, NOW);
      expect(m.traits).toMatchObject({ email: 'a@b.co', phone: '+14155550123', timezone: 'Europe/Paris', plan: 'pro' });
      expect(parseSingle('identify', { userId: 'u', traits: { email: null } }, NOW).traits).toEqual({ email: null });
    });

    it('keeps alias previousId and group groupId', () => {
      expect(parseSingle('alias', { userId: 'u', previousId: 'old' }, NOW).previousId).toBe('old');
      expect(parseSingle('group', { userId: 'u', groupId: 'g1', traits: { name: 'Acme' } }, NOW)).toMatchObject({ groupId: 'g1', traits: { name: 'Acme' } });
    });
  });

  describe('when the message is invalid', () => {
    it.each<[string, MessageType, unknown, string]>([
      ['no identity', 'track', { event: 'X' }, 'userId'],
      ['no event name', 'track', { userId: 'u' }, 'event'],
      ['an empty event name', 'track', { userId: 'u', event: '  ' }, 'event'],
      ['an event name that is not a string', 'track', { userId: 'u', event: 5 }, 'event'],
      ['properties that are not an object', 'track', { userId: 'u', event: 'X', properties: [1] }, 'properties'],
      ['a userId of the wrong type', 'identify', { userId: { a: 1 } }, 'userId'],
      ['an empty userId', 'identify', { userId: '' }, 'userId'],
      ['a bad timestamp', 'track', { userId: 'u', event: 'X', timestamp: 'yesterday' }, 'timestamp'],
      ['a timestamp without a zone', 'track', { userId: 'u', event: 'X', timestamp: '2026-01-01T00:00:00' }, 'timestamp'],
      ['a bad email', 'identify', { userId: 'u', traits: { email: 'not-an-email' } }, 'traits.email'],
      ['a phone that is not E.164', 'identify', { userId: 'u', traits: { phone: '415 555 0123' } }, 'traits.phone'],
      ['an unknown time zone', 'identify', { userId: 'u', traits: { timezone: 'Mars/Olympus' } }, 'traits.timezone'],
      ['a firstName that is not a string', 'identify', { userId: 'u', traits: { firstName: 7 } }, 'traits.firstName'],
      ['traits that are not an object', 'identify', { userId: 'u', traits: 'x' }, 'traits'],
      ['a group without groupId', 'group', { userId: 'u' }, 'groupId'],
      ['an alias without previousId', 'alias', { userId: 'u' }, 'previousId'],
      ['an alias without userId', 'alias', { previousId: 'p' }, 'userId'],
    ])('refuses %s, naming the field', (_name, type, body, path) => {
      const issues = issuesOf(() => parseSingle(type, body, NOW));
      expect(issues.map((i) => i.path)).toContain(path);
    });

    it('names the field in the error message', () => {
      expect(() => parseSingle('identify', { userId: 'u', traits: { email: 'nope' } }, NOW)).toThrow(/traits\.email/);
    });

    it('refuses a body that is not an object', () => {
      expect(issuesOf(() => parseSingle('track', [1, 2], NOW))[0]?.path).toBe('body');
    });

    it('refuses a message over 32 KB with 413', () => {
      expect(() => parseSingle('track', { userId: 'u', event: 'X', properties: { blob: 'x'.repeat(33 * 1024) } }, NOW)).toThrow(PayloadTooLargeError);
    });
  });
});

describe('parseBatch', () => {
  it('parses every message and merges the batch context into each', () => {
    const messages = parseBatch(
      { batch: [{ type: 'identify', userId: 'u', context: { ip: '1.2.3.4' } }, { type: 'track', userId: 'u', event: 'X' }], context: { library: { name: 'test' } } },
      NOW,
    );
    expect(messages.map((m) => m.type)).toEqual(['identify', 'track']);
    expect(messages[0]?.context).toEqual({ library: { name: 'test' }, ip: '1.2.3.4' });
  });

  it('refuses the whole batch when one message is bad, naming its index', () => {
    const issues = issuesOf(() => parseBatch({ batch: [{ type: 'track', userId: 'u', event: 'ok' }, { type: 'track', userId: 'u' }] }, NOW));
    expect(issues).toEqual([expect.objectContaining({ path: 'batch[1].event' })]);
  });

  it('refuses an unknown message type', () => {
    expect(issuesOf(() => parseBatch({ batch: [{ type: 'launch', userId: 'u' }] }, NOW))[0]?.path).toBe('batch[0].type');
  });

  it('refuses a missing batch array', () => {
    expect(issuesOf(() => parseBatch({ messages: [] }, NOW))[0]?.path).toBe('batch');
  });

  it(`refuses more than ${MAX_BATCH_MESSAGES} messages with 413`, () => {
    const batch = Array.from({ length: MAX_BATCH_MESSAGES + 1 }, () => ({ type: 'track', userId: 'u', event: 'X' }));
    expect(() => parseBatch({ batch }, NOW)).toThrow(PayloadTooLargeError);
  });

  it('refuses a batch holding one message over 32 KB with 413', () => {
    expect(() => parseBatch({ batch: [{ type: 'track', userId: 'u', event: 'X', properties: { b: 'x'.repeat(40_000) } }] }, NOW)).toThrow(/batch\[0\]/);
  });
});

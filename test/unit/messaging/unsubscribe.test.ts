import { createHmac } from 'node:crypto';
import {
  listUnsubscribeHeaders,
  signUnsubscribeToken,
  unsubscribeUrl,
  verifyUnsubscribeToken,
  type UnsubscribeTokenPayload,
} from '../../../shared/domain/messaging/unsubscribe';

const SECRET = 'test-secret-0123456789abcdef';
const PAYLOAD: UnsubscribeTokenPayload = {
  userId: 'u1',
  channel: 'email',
  messageId: 'm1',
  broadcastId: 'b1',
  issuedAt: '2026-11-29T12:00:00.000Z',
};

/** Flips one character of a base64url string to another valid base64url character. */
function flip(value: string, index: number): string {
  const c = value[index];
  return value.slice(0, index) + (c === 'A' ? 'B' : 'A') + value.slice(index + 1);
}

function b64(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64url');
}

/** A token correctly signed over any JSON text: proves shape checks run after the MAC. */
function signRaw(json: string): string {
  const encoded = b64(json);
  return `${encoded}.${createHmac('sha256', SECRET).update(`engage.unsubscribe.v1.${encoded}`).digest('base64url')}`;
}

describe('unsubscribe tokens', () => {
  describe('when the token is intact', () => {
    it.each<[string, UnsubscribeTokenPayload]>([
      ['a broadcast email', PAYLOAD],
      ['a journey sms for an anonymous profile', { userId: 'anon-7', anonymous: true, channel: 'sms', journeyId: 'j1', issuedAt: '2026-01-01T00:00:00+01:00' }],
      ['a non-ASCII user id', { userId: 'ü-☃-😀', channel: 'email', issuedAt: '2026-11-29T12:00:00Z' }],
    ])('round-trips %s', (_label, payload) => {
      // Prepare
      const token = signUnsubscribeToken(SECRET, payload);
      // Act
      const verified = verifyUnsubscribeToken(SECRET, token);
      // Assess
      expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
      expect(verified).toEqual(payload);
    });

    it('still verifies years later: tokens do not expire', () => {
      // Prepare
      const token = signUnsubscribeToken(SECRET, { ...PAYLOAD, issuedAt: '2001-01-01T00:00:00Z' });
      // Act
      const verified = verifyUnsubscribeToken(SECRET, token);
      // Assess
      expect(verified?.issuedAt).toBe('2001-01-01T00:00:00Z');
    });
  });

  describe('when the token is not one we signed', () => {
    const token = signUnsubscribeToken(SECRET, PAYLOAD);
    const [payloadPart = '', macPart = ''] = token.split('.');
    const otherUser = b64(JSON.stringify({ ...PAYLOAD, userId: 'u2' }));

    it.each<[string, unknown, string]>([
      ['a payload for another user with the original mac', `${otherUser}.${macPart}`, SECRET],
      ['a payload with one character changed', `${flip(payloadPart, 5)}.${macPart}`, SECRET],
      ['a mac with one character changed', `${payloadPart}.${flip(macPart, 10)}`, SECRET],
      ['a mac with its last character changed', `${payloadPart}.${flip(macPart, macPart.length - 1)}`, SECRET],
      ['a truncated mac', token.slice(0, -1), SECRET],
      ['a truncated payload', token.slice(1), SECRET],
      ['a mac with padding added', `${token}=`, SECRET],
      ['no mac', payloadPart, SECRET],
      ['an empty mac', `${payloadPart}.`, SECRET],
      ['an extra part', `${token}.x`, SECRET],
      ['the right token with the wrong secret', token, 'another-secret'],
      ['an empty string', '', SECRET],
      ['garbage', 'not a token at all', SECRET],
      ['a JWT-looking string', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc', SECRET],
      ['a huge string', 'a'.repeat(100_000), SECRET],
      ['a number', 42, SECRET],
      ['undefined', undefined, SECRET],
      ['valid MAC over bad JSON', signRaw('{"userId":'), SECRET],
      ['valid MAC over a payload without userId', signRaw(JSON.stringify({ channel: 'email', issuedAt: PAYLOAD.issuedAt })), SECRET],
      ['valid MAC over an unknown channel', signRaw(JSON.stringify({ ...PAYLOAD, channel: 'push' })), SECRET],
      ['valid MAC over a bad issuedAt', signRaw(JSON.stringify({ ...PAYLOAD, issuedAt: 'yesterday' })), SECRET],
      ['valid MAC over a JSON array', signRaw('[1,2]'), SECRET],
    ])('refuses %s', (_label, candidate, secret) => {
      // Act
      const verified = verifyUnsubscribeToken(secret, candidate);
      // Assess
      expect(verified).toBeUndefined();
    });

    it('refuses a MAC made with the same secret without the purpose label', () => {
      // Prepare
      const forged = `${payloadPart}.${createHmac('sha256', SECRET).update(payloadPart).digest('base64url')}`;
      // Act
      const verified = verifyUnsubscribeToken(SECRET, forged);
      // Assess
      expect(verified).toBeUndefined();
    });
  });

  describe('when used wrongly by the caller', () => {
    it.each<[string, () => unknown]>([
      ['signing with an empty secret', () => signUnsubscribeToken('', PAYLOAD)],
      ['verifying with an empty secret', () => verifyUnsubscribeToken('', 'a.b')],
      ['signing a payload without a user', () => signUnsubscribeToken(SECRET, { ...PAYLOAD, userId: '' })],
    ])('throws when %s', (_label, call) => {
      // Assess
      expect(call).toThrow();
    });
  });
});

describe('unsubscribeUrl', () => {
  it.each<[string, string, string]>([
    ['a bare origin', 'https://api.example.com', 'https://api.example.com/v1/unsubscribe?token=abc.DEF_-1'],
    ['a trailing slash', 'https://api.example.com/', 'https://api.example.com/v1/unsubscribe?token=abc.DEF_-1'],
    ['an API Gateway stage', 'https://x.execute-api.eu-west-1.amazonaws.com/prod/', 'https://x.execute-api.eu-west-1.amazonaws.com/prod/v1/unsubscribe?token=abc.DEF_-1'],
    ['local mode', 'http://127.0.0.1:3000', 'http://127.0.0.1:3000/v1/unsubscribe?token=abc.DEF_-1'],
  ])('builds the link from %s', (_label, base, expected) => {
    // Act
    const url = unsubscribeUrl(base, 'abc.DEF_-1');
    // Assess
    expect(url).toBe(expected);
  });

  it('puts a signed token in a link that yields it back', () => {
    // Prepare
    const token = signUnsubscribeToken(SECRET, PAYLOAD);
    // Act
    const url = new URL(unsubscribeUrl('https://api.example.com', token));
    // Assess
    expect(verifyUnsubscribeToken(SECRET, url.searchParams.get('token'))).toEqual(PAYLOAD);
  });

  it.each(['not a url', 'ftp://example.com', 'https://example.com/?a=1', 'https://example.com/#x'])('refuses the base URL %s', (base) => {
    // Assess
    expect(() => unsubscribeUrl(base, 't')).toThrow(/base URL/);
  });
});

describe('listUnsubscribeHeaders', () => {
  it('gives the RFC 8058 one-click pair', () => {
    // Act
    const headers = listUnsubscribeHeaders('https://api.example.com/v1/unsubscribe?token=a.b');
    // Assess
    expect(headers).toEqual([
      { name: 'List-Unsubscribe', value: '<https://api.example.com/v1/unsubscribe?token=a.b>' },
      { name: 'List-Unsubscribe-Post', value: 'List-Unsubscribe=One-Click' },
    ]);
  });

  it.each(['https://x/\r\nBcc: a@b.c', 'https://x/>, <mailto:a@b.c'])('refuses a URL that would break the header: %j', (url) => {
    // Assess
    expect(() => listUnsubscribeHeaders(url)).toThrow();
  });
});

import { compileTemplate, renderEmail, renderSms, type RenderContext } from '../../../shared/domain/messaging/template';

const UNSUBSCRIBE = 'https://api.example.com/v1/unsubscribe?token=abc.def';

function journeyContext(entry: Record<string, unknown>): RenderContext {
  return { traits: { firstName: 'Ada' }, userId: 'u_1', unsubscribe_url: UNSUBSCRIBE, entry, journeyId: 'j_cart' };
}

async function compiled(input: { subject: string; html: string } | { body: string }) {
  const result = await compileTemplate('body' in input ? { name: 't', channel: 'sms', ...input } : { name: 't', channel: 'email', ...input });
  if (!result.ok) throw new Error(`expected the template to compile: ${JSON.stringify(result.issues)}`);
  return result.template;
}

describe('rendering a journey send', () => {
  describe('when the run was entered by an event', () => {
    it('returns the entry event, its properties and the journey id rendered', async () => {
      // Prepare
      const template = await compiled({ subject: 'Cart {{ entry.properties.cartId }}', html: '<p>{{ entry.event }} at {{ entry.timestamp }} in {{ journeyId }}</p>' });
      if (template.channel !== 'email') throw new Error('expected an email template');

      // Act
      const rendered = await renderEmail(template, journeyContext({ event: 'Cart Abandoned', messageId: 'm_1', properties: { cartId: 'c_9' }, timestamp: '2026-03-01T10:00:00.000Z' }));

      // Assess
      expect(rendered.subject).toBe('Cart c_9');
      expect(rendered.html).toContain('<p>Cart Abandoned at 2026-03-01T10:00:00.000Z in j_cart</p>');
    });
  });

  describe('when the run was entered by an audience or by hand', () => {
    it.each([
      [{ audience: 'aud_1', enteredAt: '2026-03-01T10:00:00.000Z' }, 'aud_1|2026-03-01T10:00:00.000Z||'],
      [{ manual: true, audience: 'aud_1', enteredAt: '2026-03-01T10:00:00.000Z' }, 'aud_1|2026-03-01T10:00:00.000Z|true|'],
    ])('returns the entry fields it has, and absent ones as empty (%j)', async (entry, expected) => {
      const template = await compiled({ body: '{{ entry.audience }}|{{ entry.enteredAt }}|{{ entry.manual }}|{{ entry.properties.cartId }}' });
      if (template.channel !== 'sms') throw new Error('expected an SMS template');
      expect((await renderSms(template, journeyContext(entry))).body).toBe(expected);
    });
  });
});

/**
 * Demo data for `npm start -- --demo`, sent through the public API like any client.
 * It has profiles and events, two audiences, a journey and a broadcast.
 */
const DAY = 86_400_000;

function daysAgo(days: number): string {
  return new Date(Date.now() - days * DAY).toISOString();
}

export function demoBatch(): Array<Record<string, unknown>> {
  const people = [
    { userId: 'demo-ada', traits: { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', plan: 'pro', timezone: 'Europe/London', phone: '+447700900001' } },
    { userId: 'demo-grace', traits: { email: 'grace@example.com', firstName: 'Grace', lastName: 'Hopper', plan: 'free', timezone: 'America/New_York' } },
    { userId: 'demo-alan', traits: { email: 'alan@example.com', firstName: 'Alan', lastName: 'Turing', plan: 'free', timezone: 'Europe/London' } },
    { userId: 'demo-katherine', traits: { email: 'katherine@example.com', firstName: 'Katherine', plan: 'pro', timezone: 'America/Los_Angeles', phone: '+14155550100' } },
  ];
  const batch: Array<Record<string, unknown>> = [];
  for (const person of people) {
    batch.push({ type: 'identify', messageId: `demo-identify-${person.userId}`, userId: person.userId, traits: person.traits, timestamp: daysAgo(30) });
  }
  const carts: Array<[string, number, string]> = [
    ['demo-ada', 2, 'cart-ada-1'],
    ['demo-grace', 1, 'cart-grace-1'],
    ['demo-alan', 10, 'cart-alan-1'],
  ];
  for (const [userId, ago, cartId] of carts) {
    batch.push({ type: 'page', messageId: `demo-page-${cartId}`, userId, name: 'Pricing', timestamp: daysAgo(ago + 0.1) });
    batch.push({ type: 'track', messageId: `demo-cart-${cartId}`, userId, event: 'Cart Abandoned', properties: { cartId, total: 42.5 }, timestamp: daysAgo(ago) });
  }
  batch.push({ type: 'track', messageId: 'demo-order-katherine', userId: 'demo-katherine', event: 'Order Completed', properties: { orderId: 'o-1', total: 120 }, timestamp: daysAgo(3) });
  // An anonymous visitor who later signs up: their page view is merged into the user.
  batch.push({ type: 'page', messageId: 'demo-anon-page', anonymousId: 'demo-anon-1', name: 'Home', timestamp: daysAgo(1) });
  batch.push({ type: 'identify', messageId: 'demo-anon-identify', anonymousId: 'demo-anon-1', userId: 'demo-mary', traits: { email: 'mary@example.com', firstName: 'Mary', plan: 'trial' }, timestamp: daysAgo(0.5) });
  return batch;
}

/** Two audiences over the demo data: one from a trait, one from events in a time window. */
export const DEMO_AUDIENCES = [
  { name: 'Pro plan', description: 'Users on the pro plan', rule: { trait: 'plan', op: 'eq', value: 'pro' } },
  {
    name: 'Abandoned a cart this week',
    description: 'Abandoned a cart in the last 7 days and ordered nothing since',
    rule: { all: [{ event: 'Cart Abandoned', within: 'P7D' }, { not: { event: 'Order Completed', within: 'P7D' } }] },
  },
];

async function get(url: string, authorization: string): Promise<Record<string, unknown>> {
  const response = await fetch(url, { headers: { authorization } });
  if (!response.ok) throw new Error(`demo: ${url} answered ${response.status}`);
  return (await response.json()) as Record<string, unknown>;
}

async function post(url: string, authorization: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`demo data was refused: ${response.status} ${await response.text()}`);
  return (await response.json()) as Record<string, unknown>;
}

export const DEMO_TEMPLATE = {
  name: 'Pro tips',
  channel: 'email',
  subject: 'Three tips for {{ traits.firstName | default: "you" }}',
  mjml: `<mjml><mj-body><mj-section><mj-column>
<mj-text font-size="20px">Hi {{ traits.firstName | default: "there" }},</mj-text>
<mj-text>Here are three things pro users love.</mj-text>
<mj-text font-size="12px"><a href="{{ unsubscribe_url }}">Unsubscribe</a></mj-text>
</mj-column></mj-section></mj-body></mjml>`,
};

export const DEMO_CART_TEMPLATE = {
  name: 'Cart reminder',
  channel: 'email',
  subject: '{{ traits.firstName | default: "Hi" }}, your cart {{ entry.properties.cartId }} is waiting',
  html: '<p>You left {{ entry.properties.total }} worth of goods in your cart.</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
};

/**
 * The SPEC's abandoned-cart journey, shortened so that a newcomer sees it move within a minute
 * at the default time scale: a 20-second wait, a check on fresh data, an A/B split with a holdout,
 * a reminder, then a hold until the order of that very cart (a day; `ENGAGE_TIME_SCALE` shortens it).
 */
export function demoJourney(templateId: string): Record<string, unknown> {
  return {
    name: 'Abandoned cart',
    entry: { event: 'Cart Abandoned', where: [{ property: 'total', op: 'gte', value: 20 }] },
    reentry: { mode: 'every_event', key: 'cartId' },
    exit: { event: 'Order Completed' },
    goal: { event: 'Order Completed', within: 'P7D' },
    start: 'wait_1',
    steps: {
      wait_1: { type: 'wait', duration: 'PT20S', next: 'check' },
      check: { type: 'branch', branches: [{ name: 'Still has cart', rule: { not: { event: 'Order Completed', within: 'P3D' } }, next: 'split' }], default: 'done' },
      split: {
        type: 'split',
        variants: [
          { name: 'A', percent: 45, next: 'email' },
          { name: 'B', percent: 45, next: 'email' },
          { name: 'Holdout', percent: 10, next: null },
        ],
      },
      email: { type: 'send', channel: 'email', template: templateId, next: 'hold' },
      hold: { type: 'hold_until', event: 'Order Completed', match: ['cartId'], timeout: 'P1D', next: null, timeoutNext: 'done' },
      done: { type: 'exit' },
    },
  };
}

/**
 * Loads the demo through the public API: a journey (published first, so that the cart events
 * enter it), events with the write key; audiences, a template and a broadcast (to the "Pro
 * plan" audience, once built) with the API key.
 */
export async function loadDemo(
  url: string,
  keys: { writeKey: string; apiKey: string },
): Promise<{ messages: number; audiences: Array<{ id: string; name: string }>; broadcastId: string; journeyId: string }> {
  const bearer = `Bearer ${keys.apiKey}`;
  const cartTemplate = await post(`${url}/v1/templates`, bearer, DEMO_CART_TEMPLATE);
  const journey = await post(`${url}/v1/journeys`, bearer, demoJourney(String(cartTemplate.id)));
  await post(`${url}/v1/journeys/${String(journey.id)}/publish`, bearer, {});
  // The stream's journey cache (half a second locally) must see the new journey before the carts come.
  await new Promise((r) => setTimeout(r, 1_000));
  const batch = demoBatch();
  await post(`${url}/v1/batch`, `Basic ${Buffer.from(`${keys.writeKey}:`).toString('base64')}`, { batch });
  const audiences: Array<{ id: string; name: string }> = [];
  for (const audience of DEMO_AUDIENCES) {
    const created = await post(`${url}/v1/audiences`, bearer, audience);
    audiences.push({ id: String(created.id), name: audience.name });
  }
  const pro = audiences[0]?.id ?? '';
  for (let i = 0; i < 300 && (await get(`${url}/v1/audiences/${pro}`, bearer)).status !== 'ready'; i++) await new Promise((r) => setTimeout(r, 100));
  const template = await post(`${url}/v1/templates`, bearer, DEMO_TEMPLATE);
  const broadcast = await post(`${url}/v1/broadcasts`, bearer, { name: 'Pro tips', audience: pro, template: template.id });
  return { messages: batch.length, audiences, broadcastId: String(broadcast.id), journeyId: String(journey.id) };
}

/**
 * Demo data for `npm start -- --demo`, sent through the public ingestion API like any client.
 * Later issues add their parts (an audience, a journey, a broadcast) here.
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

export async function loadDemo(url: string, writeKey: string): Promise<number> {
  const batch = demoBatch();
  const response = await fetch(`${url}/v1/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` },
    body: JSON.stringify({ batch }),
  });
  if (!response.ok) throw new Error(`demo data was refused: ${response.status} ${await response.text()}`);
  return batch.length;
}

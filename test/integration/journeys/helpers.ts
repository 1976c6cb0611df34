import { startTestEngine, type TestEngine } from '../../helpers/engine';

/** Shared by the review tests: the same driving helpers as test/integration/journeys-api.test.ts. */

export const TIME_SCALE = 86_400 * 20; // a day in 50 ms

let seq = 0;
export function unique(prefix: string): string {
  seq++;
  return `${prefix}_${seq}_${Date.now().toString(36)}`;
}

export async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last value: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export function driver(engine: () => TestEngine) {
  const e = engine;
  return {
    async emailTemplate(): Promise<string> {
      const response = await e().api('POST', '/v1/templates', { name: unique('T'), channel: 'email', subject: 'Hi', html: '<p>Hi</p>' });
      if (response.status !== 201) throw new Error(`template: ${response.status}`);
      return response.body.id as string;
    },
    async user(traits: Record<string, unknown> = {}): Promise<string> {
      const id = unique('u');
      await e().ingest('/v1/identify', { userId: id, traits: { email: `${id}@example.com`, ...traits } });
      await e().settle();
      return id;
    },
    async track(userId: string, event: string, properties: Record<string, unknown> = {}): Promise<void> {
      const response = await e().ingest('/v1/track', { userId, event, properties });
      if (response.status !== 200) throw new Error(`track: ${response.status}`);
    },
    async publish(definition: Record<string, unknown>): Promise<string> {
      const created = await e().api('POST', '/v1/journeys', definition);
      if (created.status !== 201) throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`);
      const published = await e().api('POST', `/v1/journeys/${created.body.id}/publish`);
      if (published.status !== 200) throw new Error(`publish: ${published.status} ${JSON.stringify(published.body)}`);
      await e().settle();
      await new Promise((resolve) => setTimeout(resolve, 600)); // the stream's journey cache (0.5 s locally)
      return created.body.id as string;
    },
    async executions(journeyId: string, userId: string): Promise<Array<Record<string, any>>> {
      const response = await e().api('GET', `/v1/journeys/${journeyId}/executions?userId=${encodeURIComponent(userId)}`);
      if (response.status !== 200) throw new Error(`executions: ${response.status}`);
      return response.body.items as Array<Record<string, any>>;
    },
    async counts(journeyId: string): Promise<Record<string, any>> {
      await e().settle();
      return (await e().api('GET', `/v1/journeys/${journeyId}`)).body.counts as Record<string, any>;
    },
    async mailsTo(address: string): Promise<unknown[]> {
      return (await e().ses.store()).filter((m) => JSON.stringify(m).includes(address));
    },
  };
}

export { startTestEngine, type TestEngine };

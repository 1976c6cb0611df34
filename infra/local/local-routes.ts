import { z } from 'zod';
import { validate } from '../../functions/api/router';
import { httpHandler, json, requireApiKey } from '../../functions/lib/http';
import type { KeyProvider } from '../../shared/ports';
import type { LocalEventBus } from './event-bus';
import type { HttpLambda } from './http-server';
import type { LocalSes } from './ses';
import type { LocalSmsOutbox } from './sms-outbox';

const EventsQuerySchema = z
  .object({
    detailType: z.string().min(1).optional(),
    limit: z.coerce.number({ message: 'must be a number' }).int().min(1, 'must be at least 1').max(1000, 'must be at most 1000').default(100),
  })
  .strict();

/**
 * `GET /v1/local/events`: what the engine published to its (in-process) EventBridge bus, newest
 * last — on AWS, attach a rule to the bus instead. Needs the API key like the management API.
 */
export function localEventsRoute(bus: LocalEventBus, keys: KeyProvider): { method: string; path: string; handler: HttpLambda } {
  const handler = httpHandler(async (event) => {
    await requireApiKey(event, () => keys.apiKey());
    const query = validate(EventsQuerySchema, event.queryStringParameters ?? {}, 'query');
    return json(200, { items: bus.recent(query.limit, query.detailType ? { detailType: query.detailType } : {}) });
  });
  return { method: 'GET', path: '/v1/local/events', handler };
}

const OutboxQuerySchema = z
  .object({
    channel: z.enum(['sms', 'email'], { message: 'must be "sms" or "email"' }),
    limit: z.coerce.number({ message: 'must be a number' }).int().min(1, 'must be at least 1').max(1000, 'must be at most 1000').default(100),
  })
  .strict();

/**
 * `GET /v1/local/outbox?channel=sms`: the SMS messages "sent" locally (SPEC section 9);
 * `channel=email` lists what the local SES accepted (also browsable on its own web page).
 */
export function localOutboxRoute(sms: LocalSmsOutbox, ses: LocalSes, keys: KeyProvider): { method: string; path: string; handler: HttpLambda } {
  const handler = httpHandler(async (event) => {
    await requireApiKey(event, () => keys.apiKey());
    const query = validate(OutboxQuerySchema, event.queryStringParameters ?? {}, 'query');
    if (query.channel === 'sms') return json(200, { items: sms.list(query.limit) });
    const mails = await ses.store();
    return json(200, { items: mails.slice(-query.limit), inbox: ses.endpoint });
  });
  return { method: 'GET', path: '/v1/local/outbox', handler };
}

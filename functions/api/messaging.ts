import { z } from 'zod';
import { TemplateCreateSchema, TemplateUpdateSchema } from '../../shared/domain/messaging/template';
import { EngageError } from '../../shared/errors';
import {
  BroadcastCreateSchema,
  BroadcastUpdateSchema,
  TestSendSchema,
  cancelBroadcast,
  createBroadcast,
  getBroadcast,
  listBroadcasts,
  testSend,
  updateBroadcast,
} from '../../shared/services/broadcasts/broadcasts';
import { createTemplate, deleteTemplate, getTemplate, renderTemplate, templateView, updateTemplate } from '../../shared/services/messaging/templates';
import { readUnsubscribeToken, unsubscribe } from '../../shared/services/messaging/unsubscribe';
import { html, json, publicBaseUrl, type HttpResult } from '../lib/http';
import { route, type Route } from './router';
import { PageQuerySchema, pageOf } from './schemas';

const TemplateSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    channel: z.enum(['email', 'sms']),
    subject: z.string().optional(),
    html: z.string().optional(),
    mjml: z.string().optional(),
    text: z.string().optional(),
    body: z.string().optional(),
    usedBy: z.array(z.string()),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Template' });

const RenderRequestSchema = z
  .object({
    userId: z.string().min(1).optional(),
    traits: z.record(z.string(), z.unknown()).optional(),
    entry: z.object({ event: z.string().optional(), properties: z.record(z.string(), z.unknown()).optional() }).optional(),
  })
  .strict()
  .refine((v) => !(v.userId !== undefined && v.traits !== undefined), { message: 'give userId or traits, not both', path: ['traits'] })
  .meta({ id: 'RenderRequest' });

const RenderedSchema = z
  .object({ subject: z.string().optional(), html: z.string().optional(), text: z.string().optional(), body: z.string().optional(), segments: z.number().optional(), encoding: z.string().optional() })
  .meta({ id: 'Rendered' });

const CountsSchema = z.object({
  recipients: z.number(),
  sent: z.number(),
  skipped: z.object({ unsubscribed: z.number(), suppressed: z.number(), noAddress: z.number() }),
  failed: z.number(),
  delivered: z.number(),
  bounced: z.number(),
  complained: z.number(),
  opened: z.number(),
  clicked: z.number(),
});

const BroadcastSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    audience: z.string(),
    template: z.string(),
    channel: z.enum(['email', 'sms']),
    sendAt: z.string(),
    localTime: z.boolean(),
    rateLimitPerSecond: z.number().optional(),
    status: z.enum(['scheduled', 'sending', 'sent', 'cancelled', 'failed']),
    counts: CountsSchema,
    createdAt: z.string(),
    updatedAt: z.string(),
    startedAt: z.string().optional(),
    completedAt: z.string().optional(),
  })
  .meta({ id: 'Broadcast' });

const TokenQuerySchema = z.object({ token: z.string().min(1, 'is required') }).loose();

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}button{font-size:1rem;padding:.6rem 1.2rem;cursor:pointer}</style></head>
<body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

/** The unsubscribe routes are for people in a browser: errors are pages too (still 400). */
async function htmlErrors(run: () => Promise<HttpResult>): Promise<HttpResult> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof EngageError && error.statusCode < 500) {
      return html(error.statusCode, page('This link is not valid', '<p>The unsubscribe link is incomplete or was changed. Nothing was changed.</p>'));
    }
    throw error;
  }
}

const tplNotFound = { description: 'No template with this id' };
const brdNotFound = { description: 'No broadcast with this id' };

export const messagingRoutes: Route[] = [
  route({
    method: 'POST',
    path: '/v1/templates',
    tag: 'Templates',
    summary: 'Create an email (html or MJML, Liquid) or SMS template; one that does not parse is refused naming the line',
    auth: 'apiKey',
    body: TemplateCreateSchema,
    responses: { 201: { description: 'Created', schema: TemplateSchema } },
    handle: async ({ body, services }) => json(201, await createTemplate(services, body)),
  }),
  route({
    method: 'GET',
    path: '/v1/templates',
    tag: 'Templates',
    summary: 'List templates, oldest first',
    auth: 'apiKey',
    query: PageQuerySchema,
    responses: { 200: { description: 'A page of templates', schema: pageOf(TemplateSchema, 'TemplatePage') } },
    handle: async ({ query, services }) => {
      const result = await services.templates.list(query);
      return json(200, { items: result.items.map(templateView), nextCursor: result.nextCursor ?? null });
    },
  }),
  route({
    method: 'GET',
    path: '/v1/templates/{id}',
    tag: 'Templates',
    summary: 'A template',
    auth: 'apiKey',
    responses: { 200: { description: 'The template', schema: TemplateSchema }, 404: tplNotFound },
    handle: async ({ params, services }) => json(200, templateView(await getTemplate(services, params.id ?? ''))),
  }),
  route({
    method: 'PUT',
    path: '/v1/templates/{id}',
    tag: 'Templates',
    summary: 'Edit a template (the channel cannot change)',
    auth: 'apiKey',
    body: TemplateUpdateSchema,
    responses: { 200: { description: 'The template', schema: TemplateSchema }, 404: tplNotFound },
    handle: async ({ params, body, services }) => json(200, await updateTemplate(services, params.id ?? '', body)),
  }),
  route({
    method: 'DELETE',
    path: '/v1/templates/{id}',
    tag: 'Templates',
    summary: 'Delete a template (409 while a scheduled or sending broadcast uses it)',
    auth: 'apiKey',
    responses: { 204: { description: 'Deleted' }, 404: tplNotFound, 409: { description: 'In use' } },
    handle: async ({ params, services }) => {
      await deleteTemplate(services, params.id ?? '');
      return { statusCode: 204, headers: {}, body: '' };
    },
  }),
  route({
    method: 'POST',
    path: '/v1/templates/{id}/render',
    tag: 'Templates',
    summary: "Render for a profile (userId) or for given traits: email {subject, html, text}; SMS {body, segments, encoding}",
    auth: 'apiKey',
    body: RenderRequestSchema,
    responses: { 200: { description: 'Rendered', schema: RenderedSchema }, 404: tplNotFound },
    handle: async ({ params, body, services, event }) => json(200, await renderTemplate(services, params.id ?? '', body, publicBaseUrl(event))),
  }),
  route({
    method: 'POST',
    path: '/v1/broadcasts',
    tag: 'Broadcasts',
    summary: 'Create a broadcast: now, or at sendAt (optionally at that wall-clock time in each recipient’s time zone)',
    auth: 'apiKey',
    body: BroadcastCreateSchema,
    responses: { 201: { description: 'Scheduled (or already sending, when no sendAt)', schema: BroadcastSchema } },
    handle: async ({ body, services }) => json(201, await createBroadcast(services, body)),
  }),
  route({
    method: 'GET',
    path: '/v1/broadcasts',
    tag: 'Broadcasts',
    summary: 'List broadcasts, oldest first',
    auth: 'apiKey',
    query: PageQuerySchema,
    responses: { 200: { description: 'A page of broadcasts', schema: pageOf(BroadcastSchema, 'BroadcastPage') } },
    handle: async ({ query, services }) => {
      const result = await listBroadcasts(services, query);
      return json(200, { items: result.items, nextCursor: result.nextCursor ?? null });
    },
  }),
  route({
    method: 'GET',
    path: '/v1/broadcasts/{id}',
    tag: 'Broadcasts',
    summary: 'A broadcast with its status and counts',
    auth: 'apiKey',
    responses: { 200: { description: 'The broadcast', schema: BroadcastSchema }, 404: brdNotFound },
    handle: async ({ params, services }) => json(200, await getBroadcast(services, params.id ?? '')),
  }),
  route({
    method: 'PUT',
    path: '/v1/broadcasts/{id}',
    tag: 'Broadcasts',
    summary: 'Edit a scheduled broadcast (name, sendAt, rateLimitPerSecond); 409 once it started',
    auth: 'apiKey',
    body: BroadcastUpdateSchema,
    responses: { 200: { description: 'The broadcast', schema: BroadcastSchema }, 404: brdNotFound, 409: { description: 'No longer editable' } },
    handle: async ({ params, body, services }) => json(200, await updateBroadcast(services, params.id ?? '', body)),
  }),
  route({
    method: 'POST',
    path: '/v1/broadcasts/{id}/cancel',
    tag: 'Broadcasts',
    summary: 'Stop a scheduled or sending broadcast: no new sends',
    auth: 'apiKey',
    responses: { 200: { description: 'Cancelled', schema: BroadcastSchema }, 404: brdNotFound, 409: { description: 'Already sent or cancelled' } },
    handle: async ({ params, services }) => json(200, await cancelBroadcast(services, params.id ?? '')),
  }),
  route({
    method: 'POST',
    path: '/v1/broadcasts/{id}/test',
    tag: 'Broadcasts',
    summary: 'Send the rendered message now to up to 10 addresses (not counted)',
    auth: 'apiKey',
    body: TestSendSchema,
    responses: { 200: { description: 'Sent' }, 404: brdNotFound },
    handle: async ({ params, body, services }) => json(200, await testSend(services, params.id ?? '', body.to)),
  }),
  route({
    method: 'GET',
    path: '/v1/unsubscribe',
    tag: 'Consent',
    summary: 'Unsubscribe page of a signed link (public): asks to confirm; changes nothing by itself',
    auth: 'none',
    query: TokenQuerySchema,
    responses: { 200: { description: 'Confirmation page (HTML)' } },
    handle: ({ query, services, event }) =>
      htmlErrors(async () => {
        const payload = await readUnsubscribeToken(services, query.token);
        const action = `${publicBaseUrl(event)}/v1/unsubscribe?token=${encodeURIComponent(query.token)}`;
        return html(200, page('Unsubscribe', `<p>Stop receiving ${payload.channel === 'sms' ? 'text messages' : 'emails'} from us?</p><form method="post" action="${escapeHtml(action)}"><button type="submit">Unsubscribe</button></form>`));
      }),
  }),
  route({
    method: 'POST',
    path: '/v1/unsubscribe',
    tag: 'Consent',
    summary: 'One-click unsubscribe (RFC 8058 List-Unsubscribe-Post; public)',
    auth: 'none',
    query: TokenQuerySchema,
    responses: { 200: { description: 'Unsubscribed (HTML)' } },
    handle: ({ query, services }) =>
      htmlErrors(async () => {
        const payload = await unsubscribe(services, query.token);
        return html(200, page('You are unsubscribed', `<p>You will no longer receive ${payload.channel === 'sms' ? 'text messages' : 'emails'} like this one.</p>`));
      }),
  }),
];

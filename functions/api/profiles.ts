import { z } from 'zod';
import { requestErasure } from '../../shared/services/erasure';
import { getProfileView, listProfileEvents, listProfileMessages, updateSubscriptions } from '../../shared/services/profiles';
import { MESSAGE_TYPES } from '../../shared/domain/ingestion/messages';
import { json } from '../lib/http';
import { route, type Route } from './router';
import { PageQuerySchema, pageOf } from './schemas';

const SubscriptionStatusSchema = z.enum(['subscribed', 'unsubscribed'], { message: 'must be "subscribed" or "unsubscribed"' });

export const SubscriptionsUpdateSchema = z
  .object({ email: SubscriptionStatusSchema.optional(), sms: SubscriptionStatusSchema.optional() })
  .strict()
  .refine((v) => v.email !== undefined || v.sms !== undefined, { message: 'set email or sms', path: ['email'] })
  .meta({ id: 'SubscriptionsUpdate' });

const SubscriptionsSchema = z.object({ email: SubscriptionStatusSchema, sms: SubscriptionStatusSchema }).meta({ id: 'Subscriptions' });

const ProfileSchema = z
  .object({
    userId: z.string().nullable(),
    anonymousId: z.string().optional(),
    traits: z.record(z.string(), z.unknown()),
    groups: z.record(z.string(), z.record(z.string(), z.unknown())),
    audiences: z.array(z.object({ id: z.string(), enteredAt: z.string() })),
    subscriptions: SubscriptionsSchema,
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Profile' });

const EventSchema = z
  .object({
    messageId: z.string(),
    type: z.enum(MESSAGE_TYPES),
    event: z.string().nullable(),
    properties: z.record(z.string(), z.unknown()),
    timestamp: z.string(),
    receivedAt: z.string(),
  })
  .meta({ id: 'ProfileEvent' });

const MessageSchema = z
  .object({
    id: z.string(),
    channel: z.enum(['email', 'sms']),
    templateId: z.string(),
    broadcastId: z.string().optional(),
    journeyId: z.string().optional(),
    status: z.string(),
    sentAt: z.string(),
  })
  .loose()
  .meta({ id: 'ProfileMessage' });

const notFound = { description: 'No profile with this id' };

export const profileRoutes: Route[] = [
  route({
    method: 'GET',
    path: '/v1/profiles/{userId}',
    tag: 'Profiles',
    summary: 'A profile: traits, audiences, subscriptions',
    auth: 'apiKey',
    responses: { 200: { description: 'The profile', schema: ProfileSchema }, 404: notFound },
    handle: async ({ params, services }) => json(200, await getProfileView(services.profiles, params.userId ?? '')),
  }),
  route({
    method: 'GET',
    path: '/v1/profiles/{userId}/events',
    tag: 'Profiles',
    summary: "The profile's events, newest first",
    auth: 'apiKey',
    query: PageQuerySchema,
    responses: { 200: { description: 'A page of events', schema: pageOf(EventSchema, 'ProfileEventPage') }, 404: notFound },
    handle: async ({ params, query, services }) => {
      const page = await listProfileEvents(services.profiles, params.userId ?? '', query);
      const items = page.items.map((e) => ({
        messageId: e.messageId,
        type: e.type,
        event: e.event ?? null,
        properties: e.properties,
        ...(e.traits && Object.keys(e.traits).length > 0 ? { traits: e.traits } : {}),
        timestamp: e.timestamp,
        receivedAt: e.receivedAt,
      }));
      return json(200, { items, nextCursor: page.nextCursor ?? null });
    },
  }),
  route({
    method: 'GET',
    path: '/v1/profiles/{userId}/messages',
    tag: 'Profiles',
    summary: 'Messages sent to the profile and their delivery status, newest first',
    auth: 'apiKey',
    query: PageQuerySchema,
    responses: { 200: { description: 'A page of messages', schema: pageOf(MessageSchema, 'ProfileMessagePage') }, 404: notFound },
    handle: async ({ params, query, services }) => {
      const page = await listProfileMessages(services.profiles, params.userId ?? '', query);
      return json(200, { items: page.items, nextCursor: page.nextCursor ?? null });
    },
  }),
  route({
    method: 'PUT',
    path: '/v1/profiles/{userId}/subscriptions',
    tag: 'Profiles',
    summary: 'Subscribe or unsubscribe the profile per channel',
    auth: 'apiKey',
    body: SubscriptionsUpdateSchema,
    responses: { 200: { description: 'The subscriptions now in force', schema: SubscriptionsSchema }, 404: notFound },
    handle: async ({ params, body, services }) =>
      json(200, await updateSubscriptions(services.profiles, params.userId ?? '', body, services.clock.now().toISOString())),
  }),
  route({
    method: 'DELETE',
    path: '/v1/profiles/{userId}',
    tag: 'Profiles',
    summary: 'Erase the profile and everything it owns (right to erasure); completes within minutes',
    auth: 'apiKey',
    responses: { 202: { description: 'Erasure accepted' }, 404: notFound },
    handle: async ({ params, services }) => {
      const userId = params.userId ?? '';
      await requestErasure(services.profiles, userId, services.clock.now().toISOString());
      return json(202, { userId, status: 'erasing' });
    },
  }),
];

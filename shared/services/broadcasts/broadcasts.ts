import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { countsView, localSendTime, localTimeStart, type Broadcast } from '../../domain/broadcast/broadcast';
import { listUnsubscribeHeaders } from '../../domain/messaging/unsubscribe';
import { renderEmail, renderSms } from '../../domain/messaging/template';
import { AUDIENCE_SHARD_COUNT, profilePk } from '../../aws/dynamodb/keys';
import { ConcurrentUpdateError, ConflictError, NotFoundError, ValidationError } from '../../errors';
import type { AudienceStore, BroadcastStore, Clock, Mailer, Page, PageRequest, ProfileStore, Queue, Scheduler, SmsSender, TemplateStore } from '../../ports';
import { updateWithRetry } from '../versioned';
import type { SendMessage } from '../messaging/send-message';

const E164 = /^\+[1-9]\d{1,14}$/;

export const BroadcastCreateSchema = z
  .object({
    name: z.string().trim().min(1, 'must not be empty').max(200),
    audience: z.string().min(1),
    template: z.string().min(1),
    sendAt: z.iso.datetime({ offset: true, message: 'must be an ISO-8601 date-time with a time zone' }).optional(),
    localTime: z.boolean().optional(),
    rateLimitPerSecond: z.number().int('must be an integer').min(1, 'must be at least 1').max(10_000, 'must be at most 10000').optional(),
  })
  .strict()
  .refine((b) => !b.localTime || b.sendAt !== undefined, { message: 'localTime needs sendAt (the wall-clock time to send at)', path: ['localTime'] })
  .meta({ id: 'BroadcastCreate' });
export type BroadcastCreate = z.infer<typeof BroadcastCreateSchema>;

export const BroadcastUpdateSchema = z
  .object({
    name: z.string().trim().min(1).max(200).optional(),
    sendAt: z.iso.datetime({ offset: true, message: 'must be an ISO-8601 date-time with a time zone' }).optional(),
    rateLimitPerSecond: z.number().int().min(1).max(10_000).optional(),
  })
  .strict()
  .meta({ id: 'BroadcastUpdate' });

export const TestSendSchema = z.object({ to: z.array(z.string().min(3)).min(1, 'give at least one address').max(10, 'at most 10 addresses') }).strict().meta({ id: 'BroadcastTestSend' });

/** A message on the fan-out queue: one page of one audience shard of a broadcast's snapshot. */
export const FanoutMessageSchema = z.object({
  kind: z.literal('snapshot'),
  broadcastId: z.string(),
  shard: z.number().int().min(0),
  page: z.number().int().min(0),
  cursor: z.string().optional(),
});
export type FanoutMessage = z.infer<typeof FanoutMessageSchema>;

export interface BroadcastDeps {
  broadcasts: BroadcastStore;
  audiences: AudienceStore;
  templates: TemplateStore;
  profiles: ProfileStore;
  queue: Queue;
  scheduler: Scheduler;
  mailer: Mailer;
  sms: SmsSender;
  clock: Clock;
  messaging: { fromEmail: string; publicApiUrl: string };
}

const FANOUT_PAGE = 500;

function scheduleName(b: Broadcast): string {
  return `broadcast-${b.id}-v${b.version}`;
}

function startTime(b: Pick<Broadcast, 'sendAt' | 'localTime'>): Date {
  return b.localTime ? localTimeStart(b.sendAt) : new Date(b.sendAt);
}

export async function broadcastView(deps: Pick<BroadcastDeps, 'broadcasts'>, b: Broadcast): Promise<Record<string, unknown>> {
  return {
    id: b.id,
    name: b.name,
    audience: b.audienceId,
    template: b.templateId,
    channel: b.channel,
    sendAt: b.sendAt,
    localTime: b.localTime,
    ...(b.rateLimitPerSecond ? { rateLimitPerSecond: b.rateLimitPerSecond } : {}),
    status: b.status,
    counts: countsView(await deps.broadcasts.counts(b)),
    createdAt: b.createdAt,
    updatedAt: b.updatedAt,
    ...(b.startedAt ? { startedAt: b.startedAt } : {}),
    ...(b.completedAt ? { completedAt: b.completedAt } : {}),
  };
}

async function markUse(deps: BroadcastDeps, b: Broadcast, inUse: boolean): Promise<void> {
  const apply = (usedBy: Record<string, string>): Record<string, string> => {
    const next = { ...usedBy };
    if (inUse) next[b.id] = 'broadcast';
    else delete next[b.id];
    return next;
  };
  await updateWithRetry(deps.audiences, b.audienceId, (a) => ({ ...a, usedBy: apply(a.usedBy) })).catch((error: unknown) => {
    if (!(error instanceof NotFoundError)) throw error;
  });
  for (let attempt = 0; attempt < 5; attempt++) {
    const template = await deps.templates.get(b.templateId);
    if (!template) return;
    try {
      await deps.templates.save({ ...template, usedBy: apply(template.usedBy) });
      return;
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError)) throw error;
    }
  }
}

/** Creates a broadcast and its one-time schedule (SPEC section 3). Bad references are 400s naming the field. */
export async function createBroadcast(deps: BroadcastDeps, input: BroadcastCreate): Promise<Record<string, unknown>> {
  const now = deps.clock.now();
  const invalid = (path: string, message: string) => new ValidationError(`${path}: ${message}`, [{ path, message }]);
  if (!(await deps.audiences.get(input.audience))) throw invalid('audience', `no audience ${input.audience}`);
  const template = await deps.templates.get(input.template);
  if (!template) throw invalid('template', `no template ${input.template}`);
  if (input.sendAt !== undefined && Date.parse(input.sendAt) <= now.getTime()) throw invalid('sendAt', 'must be in the future');

  const broadcast: Broadcast = {
    id: `brd_${randomBytes(8).toString('hex')}`,
    name: input.name,
    audienceId: input.audience,
    templateId: input.template,
    channel: template.channel,
    sendAt: input.sendAt ?? now.toISOString(),
    localTime: input.localTime ?? false,
    ...(input.rateLimitPerSecond ? { rateLimitPerSecond: input.rateLimitPerSecond } : {}),
    status: 'scheduled',
    fanoutRemaining: AUDIENCE_SHARD_COUNT,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    version: 0,
  };
  await deps.broadcasts.create(broadcast);
  const created = { ...broadcast, version: 1 };
  await markUse(deps, created, true);
  const at = startTime(created);
  // "Now" does not wait for a schedule (EventBridge Scheduler fires a minute or two later at best).
  if (at.getTime() <= now.getTime() + 60_000) await startBroadcast(deps, created.id);
  else await deps.scheduler.scheduleOnce(scheduleName(created), at, { kind: 'broadcast-start', broadcastId: created.id, version: created.version });
  const current = await deps.broadcasts.get(created.id);
  return broadcastView(deps, current ?? created);
}

export async function getBroadcast(deps: BroadcastDeps, id: string): Promise<Record<string, unknown>> {
  const b = await deps.broadcasts.get(id);
  if (!b) throw new NotFoundError(`broadcast ${id} not found`);
  return broadcastView(deps, b);
}

export async function listBroadcasts(deps: BroadcastDeps, page: PageRequest): Promise<Page<Record<string, unknown>>> {
  const result = await deps.broadcasts.list(page);
  return { items: await Promise.all(result.items.map((b) => broadcastView(deps, b))), nextCursor: result.nextCursor };
}

/** Edits a scheduled broadcast (name, time, rate); anything else is a 409. */
export async function updateBroadcast(deps: BroadcastDeps, id: string, patch: z.infer<typeof BroadcastUpdateSchema>): Promise<Record<string, unknown>> {
  const current = await deps.broadcasts.get(id);
  if (!current) throw new NotFoundError(`broadcast ${id} not found`);
  if (current.status !== 'scheduled') throw new ConflictError(`broadcast ${id} is ${current.status}: it can no longer be edited`);
  const now = deps.clock.now();
  if (patch.sendAt !== undefined && Date.parse(patch.sendAt) <= now.getTime()) {
    throw new ValidationError('sendAt: must be in the future', [{ path: 'sendAt', message: 'must be in the future' }]);
  }
  const saved = await deps.broadcasts.save({
    ...current,
    name: patch.name ?? current.name,
    sendAt: patch.sendAt ?? current.sendAt,
    ...(patch.rateLimitPerSecond ? { rateLimitPerSecond: patch.rateLimitPerSecond } : {}),
    updatedAt: now.toISOString(),
  });
  // Every edit moves the version, and a start for an old version is a no-op: the schedule
  // (named by version) is replaced whatever changed.
  await deps.scheduler.cancel(scheduleName(current));
  const at = startTime(saved);
  if (at.getTime() <= now.getTime() + 60_000) await startBroadcast(deps, id);
  else await deps.scheduler.scheduleOnce(scheduleName(saved), at, { kind: 'broadcast-start', broadcastId: id, version: saved.version });
  return broadcastView(deps, saved);
}

/** Stops a scheduled or sending broadcast: no new sends (SPEC section 3). */
export async function cancelBroadcast(deps: BroadcastDeps, id: string): Promise<Record<string, unknown>> {
  for (let attempt = 0; ; attempt++) {
    const current = await deps.broadcasts.get(id);
    if (!current) throw new NotFoundError(`broadcast ${id} not found`);
    if (current.status !== 'scheduled' && current.status !== 'sending') throw new ConflictError(`broadcast ${id} is ${current.status}: it cannot be cancelled`);
    try {
      const saved = await deps.broadcasts.save({ ...current, status: 'cancelled', completedAt: deps.clock.now().toISOString(), updatedAt: deps.clock.now().toISOString() });
      await deps.scheduler.cancel(scheduleName(current));
      await markUse(deps, saved, false);
      return broadcastView(deps, saved);
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError) || attempt >= 5) throw error;
    }
  }
}

/** The schedule fired: the snapshot starts, one fan-out message per audience shard. */
export async function startBroadcast(deps: BroadcastDeps, id: string, version?: number): Promise<'started' | 'not-scheduled'> {
  const current = await deps.broadcasts.get(id);
  if (!current) return 'not-scheduled';
  // A start that failed after marking the broadcast `sending` is retried: the fan-out messages
  // are sent again (fan-out pages and sends are idempotent).
  const retry = current.status === 'sending' && (await deps.broadcasts.fanoutShardsDone(id)) === 0;
  if (!retry) {
    if (current.status !== 'scheduled' || (version !== undefined && version !== current.version)) return 'not-scheduled';
    const now = deps.clock.now().toISOString();
    try {
      await deps.broadcasts.save({ ...current, status: 'sending', startedAt: now, updatedAt: now });
    } catch (error) {
      if (error instanceof ConcurrentUpdateError) return 'not-scheduled';
      throw error;
    }
  }
  const messages = Array.from({ length: AUDIENCE_SHARD_COUNT }, (_, shard): FanoutMessage => ({ kind: 'snapshot', broadcastId: id, shard, page: 0 }));
  await deps.queue.send('fanout', messages.map((body) => ({ body })));
  return 'started';
}

/**
 * One page of the snapshot: the shard's members who were members when sending started go on
 * the send queue (local-time recipients with the moment they may be sent), the page records
 * how many, and the next page follows. Redelivery re-sends the same recipients, which the
 * sender's claim makes harmless.
 */
export async function processFanout(deps: BroadcastDeps, message: FanoutMessage): Promise<number> {
  const b = await deps.broadcasts.get(message.broadcastId);
  if (!b || b.status !== 'sending' || !b.startedAt) return 0;
  const startedAt = b.startedAt;
  const page = await deps.audiences.shardMembers(b.audienceId, message.shard, FANOUT_PAGE, message.cursor);
  const members = page.items.filter((m) => m.enteredAt <= startedAt);
  const now = deps.clock.now().getTime();
  const sends = await Promise.all(
    members.map(async (m) => {
      const body: SendMessage = { kind: 'broadcast', broadcastId: b.id, shard: message.shard, profile: profilePk(m.ref) };
      if (!b.localTime) return { body };
      const profile = await deps.profiles.getProfile(m.ref);
      const at = localSendTime(b.sendAt, profile?.traits.timezone).getTime();
      return { body: { ...body, notBefore: new Date(at).toISOString() }, delaySeconds: Math.min(900, Math.max(0, Math.ceil((at - now) / 1000))) };
    }),
  );
  if (sends.length > 0) await deps.queue.send('send', sends);
  await deps.broadcasts.recordFanoutPage(b.id, message.shard, message.page, members.length);
  if (page.nextCursor) await deps.queue.send('fanout', [{ body: { ...message, page: message.page + 1, cursor: page.nextCursor } }]);
  else await deps.broadcasts.completeFanoutShard(b.id, message.shard);
  return members.length;
}

/**
 * A sending broadcast is done when its snapshot is complete and every recipient has an outcome:
 * `sent`, or `failed` when there were recipients and the provider refused every one of them.
 */
export async function checkCompletion(deps: BroadcastDeps): Promise<string[]> {
  const completed: string[] = [];
  for (const b of await deps.broadcasts.listSending()) {
    if ((await deps.broadcasts.fanoutShardsDone(b.id)) < AUDIENCE_SHARD_COUNT) continue;
    const counts = await deps.broadcasts.counts(b);
    const outcomes = counts.sent + counts.failed + counts.skippedNoAddress + counts.skippedSuppressed + counts.skippedUnsubscribed;
    if (outcomes < counts.recipients) continue;
    try {
      const now = deps.clock.now().toISOString();
      const status = counts.recipients > 0 && counts.failed === counts.recipients ? 'failed' : 'sent';
      const saved = await deps.broadcasts.save({ ...b, status, completedAt: now, updatedAt: now });
      await markUse(deps, saved, false);
      completed.push(b.id);
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError)) throw error;
    }
  }
  return completed;
}

/** Sends the rendered message now to the given addresses (not counted, not logged under a profile). */
export async function testSend(deps: BroadcastDeps, id: string, to: string[]): Promise<{ sent: number }> {
  const b = await deps.broadcasts.get(id);
  if (!b) throw new NotFoundError(`broadcast ${id} not found`);
  const template = await deps.templates.get(b.templateId);
  if (!template) throw new ConflictError(`template ${b.templateId} of broadcast ${id} no longer exists`);
  to.forEach((address, i) => {
    const ok = b.channel === 'email' ? z.email().safeParse(address).success : E164.test(address);
    if (!ok) throw new ValidationError(`to[${i}]: must be ${b.channel === 'email' ? 'an email address' : 'an E.164 phone number'}`, [{ path: `to[${i}]`, message: 'invalid address' }]);
  });
  // Test recipients are not profiles: the link shows the unsubscribe page but changes nothing.
  const url = `${deps.messaging.publicApiUrl}/v1/unsubscribe?token=test`;
  const context = { traits: {}, userId: null, unsubscribe_url: url };
  const tags = { engage_test: 'true', engage_broadcast: b.id };
  for (const address of to) {
    if (b.channel === 'email') {
      const rendered = await renderEmail({ channel: 'email', subject: template.subject ?? '', html: template.html ?? '', ...(template.text ? { text: template.text } : {}) }, context);
      await deps.mailer.sendEmail({ to: address, from: deps.messaging.fromEmail, ...rendered, subject: `[Test] ${rendered.subject}`, headers: listUnsubscribeHeaders(url), tags });
    } else {
      const rendered = await renderSms({ channel: 'sms', body: template.body ?? '' }, context);
      await deps.sms.sendSms({ to: address, body: rendered.body, tags });
    }
  }
  return { sent: to.length };
}

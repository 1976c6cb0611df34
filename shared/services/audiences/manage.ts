import { randomBytes } from 'node:crypto';
import { findCycle, referencedAudiences, type Rule } from '../../domain/audience/rule';
import { compileRule, type EvaluationEvent } from '../../domain/audience/evaluate';
import { ConflictError, NotFoundError, ValidationError } from '../../errors';
import type { AudienceDefinition, AudienceStore, Clock, MembershipStore, Page, PageRequest, ProfileStore } from '../../ports';
import type { Profile, ProfileRef } from '../../domain/profile/profile';
import { updateWithRetry } from '../versioned';

export interface ManageDeps {
  audiences: AudienceStore;
  profiles: ProfileStore;
  memberships: MembershipStore;
  clock: Clock;
  backfill: { segments: number };
}

export interface AudienceView {
  id: string;
  name: string;
  description?: string;
  rule: Rule;
  status: AudienceDefinition['status'];
  /** Members now; null until the first backfill finished. */
  size: number | null;
  usedBy: string[];
  createdAt: string;
  updatedAt: string;
}

export async function toView(audiences: AudienceStore, d: AudienceDefinition): Promise<AudienceView> {
  return {
    id: d.id,
    name: d.name,
    ...(d.description !== undefined ? { description: d.description } : {}),
    rule: d.rule,
    status: d.status,
    size: d.status === 'building' && d.ruleVersion === 1 ? null : await audiences.size(d.id),
    usedBy: Object.keys(d.usedBy),
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
}

/** Every `{audience: id}` of the rule must name an existing audience (400 naming the path). */
async function checkReferences(deps: ManageDeps, rule: Rule, selfId?: string): Promise<void> {
  const all = await deps.audiences.listAll();
  const byId = new Map(all.map((a) => [a.id, a]));
  for (const id of referencedAudiences(rule)) {
    if (!byId.has(id) && id !== selfId) {
      throw new ValidationError(`rule: references audience ${id}, which does not exist`, [{ path: 'rule', message: `references audience ${id}, which does not exist` }]);
    }
  }
  if (selfId !== undefined) {
    const cycle = findCycle(selfId, rule, (id) => (id === selfId ? rule : byId.get(id)?.rule));
    if (cycle) throw new ValidationError(`rule: audience references form a cycle: ${cycle.join(' → ')}`, [{ path: 'rule', message: `audience references form a cycle: ${cycle.join(' → ')}` }]);
  }
}

export async function createAudience(deps: ManageDeps, input: { name: string; description?: string; rule: Rule }): Promise<AudienceView> {
  await checkReferences(deps, input.rule);
  const now = deps.clock.now().toISOString();
  const definition: AudienceDefinition = {
    id: `aud_${randomBytes(8).toString('hex')}`,
    name: input.name,
    ...(input.description !== undefined ? { description: input.description } : {}),
    rule: input.rule,
    ruleVersion: 1,
    status: 'building',
    backfillRemaining: deps.backfill.segments,
    usedBy: {},
    createdAt: now,
    updatedAt: now,
    version: 0,
  };
  await deps.audiences.create(definition);
  return toView(deps.audiences, { ...definition, version: 1 });
}

export async function getAudience(deps: ManageDeps, id: string): Promise<AudienceView> {
  const definition = await deps.audiences.get(id);
  if (!definition) throw new NotFoundError(`audience ${id} not found`);
  return toView(deps.audiences, definition);
}

export async function listAudiences(deps: ManageDeps, page: PageRequest): Promise<Page<AudienceView>> {
  const result = await deps.audiences.list(page);
  return { items: await Promise.all(result.items.map((d) => toView(deps.audiences, d))), nextCursor: result.nextCursor };
}

/** A new rule rebuilds membership (users who no longer match exit); name and description do not. */
export async function updateAudience(deps: ManageDeps, id: string, patch: { name?: string; description?: string; rule?: Rule }): Promise<AudienceView> {
  if (patch.rule) await checkReferences(deps, patch.rule, id);
  const now = deps.clock.now().toISOString();
  const saved = await updateWithRetry(deps.audiences, id, (current) => {
    const ruleChanged = patch.rule !== undefined && JSON.stringify(patch.rule) !== JSON.stringify(current.rule);
    return {
      ...current,
      name: patch.name ?? current.name,
      description: patch.description ?? current.description,
      ...(ruleChanged && patch.rule
        ? { rule: patch.rule, ruleVersion: current.ruleVersion + 1, status: 'building' as const, backfillRemaining: deps.backfill.segments }
        : {}),
      updatedAt: now,
    };
  });
  return toView(deps.audiences, saved);
}

/** Refused (409) while a journey, a broadcast or another audience's rule uses it. */
export async function deleteAudience(deps: ManageDeps, id: string): Promise<void> {
  const definition = await deps.audiences.get(id);
  if (!definition) throw new NotFoundError(`audience ${id} not found`);
  const users = Object.entries(definition.usedBy).map(([user, kind]) => `${kind} ${user}`);
  const referencing = (await deps.audiences.listAll()).filter((a) => a.id !== id && referencedAudiences(a.rule).includes(id)).map((a) => `audience ${a.id}`);
  if (users.length + referencing.length > 0) throw new ConflictError(`audience ${id} is in use by ${[...users, ...referencing].join(', ')}`);
  await deps.audiences.delete(id);
}

export async function listMembers(deps: ManageDeps, id: string, page: PageRequest): Promise<Page<{ userId: string | null; anonymousId?: string; enteredAt: string }>> {
  if (!(await deps.audiences.get(id))) throw new NotFoundError(`audience ${id} not found`);
  const result = await deps.audiences.members(id, page);
  return {
    items: result.items.map((m) => ({ ...refView(m.ref), enteredAt: m.enteredAt })),
    nextCursor: result.nextCursor,
  };
}

function refView(ref: ProfileRef): { userId: string | null; anonymousId?: string } {
  return ref.kind === 'user' ? { userId: ref.id } : { userId: null, anonymousId: ref.id };
}

/** A preview evaluates at most this many profiles; beyond, it samples. */
const PREVIEW_PROFILE_LIMIT = 2_000;
/** Sampling splits the table into this many scan segments; the first few are the sample. */
const SAMPLE_SEGMENTS = 1_000;
const PREVIEW_SAMPLE = 20;

export interface PreviewResult {
  size: number;
  sample: string[];
  /** False when every profile was evaluated; true when `size` is extrapolated from a sample. */
  estimated: boolean;
  evaluated: number;
}

interface ScanTally {
  matches: number;
  evaluated: number;
  sample: string[];
  /** Segments scanned to the end, and the matches found in them. */
  segmentsDone: number;
  matchesInDoneSegments: number;
}

/**
 * Evaluates a rule over the profiles without saving anything: exact when the table holds at
 * most PREVIEW_PROFILE_LIMIT profiles; otherwise the first segments of a 1,000-way parallel
 * scan are a sample (segments split the key space evenly) and the size is extrapolated.
 */
export async function previewAudience(deps: ManageDeps, rule: Rule): Promise<PreviewResult> {
  await checkReferences(deps, rule);
  const compiled = compileRule(rule);
  const now = deps.clock.now();

  const matchesRule = async (profile: Profile): Promise<boolean> => {
    const events = new Map<string, EvaluationEvent[]>();
    for (const [name, windowMs] of compiled.eventRequirements) {
      const since = windowMs === null ? null : new Date(now.getTime() - windowMs).toISOString();
      events.set(name, await deps.memberships.eventsNamed(profile.ref, name, since));
    }
    const state = compiled.audiences.length > 0 ? await deps.memberships.state(profile.ref) : undefined;
    return compiled.evaluate({ traits: profile.traits, eventsNamed: (n) => events.get(n) ?? [], isMember: (a) => state?.memberships.has(a) ?? false, now }).matches;
  };

  const scan = async (totalSegments: number): Promise<ScanTally> => {
    const tally: ScanTally = { matches: 0, evaluated: 0, sample: [], segmentsDone: 0, matchesInDoneSegments: 0 };
    for (let segment = 0; segment < totalSegments && tally.evaluated < PREVIEW_PROFILE_LIMIT; segment++) {
      let matchesHere = 0;
      let cursor: string | undefined;
      do {
        const page = await deps.profiles.scanProfiles(segment, totalSegments, 200, cursor);
        for (const profile of page.items) {
          if (profile.mergedInto !== undefined || profile.erasureRequestedAt !== undefined) continue;
          tally.evaluated++;
          if (!(await matchesRule(profile))) continue;
          matchesHere++;
          if (tally.sample.length < PREVIEW_SAMPLE) tally.sample.push(profile.ref.id);
        }
        cursor = page.nextCursor;
      } while (cursor && tally.evaluated < PREVIEW_PROFILE_LIMIT);
      tally.matches += matchesHere;
      if (!cursor) {
        tally.segmentsDone++;
        tally.matchesInDoneSegments += matchesHere;
      }
    }
    return tally;
  };

  const whole = await scan(1);
  if (whole.segmentsDone === 1) return { size: whole.matches, sample: whole.sample, estimated: false, evaluated: whole.evaluated };
  const sampled = await scan(SAMPLE_SEGMENTS);
  const size = sampled.segmentsDone > 0 ? Math.round((sampled.matchesInDoneSegments * SAMPLE_SEGMENTS) / sampled.segmentsDone) : sampled.matches;
  return { size, sample: sampled.sample.length > 0 ? sampled.sample : whole.sample, estimated: true, evaluated: sampled.evaluated };
}

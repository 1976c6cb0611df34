/**
 * Seeded generators for the audiences benchmark: profiles with traits and event histories, and
 * "mixed" audience rules over a vocabulary of traits and events (trait operators including
 * dotted paths and dates, event conditions with where / count / within, not-within, nested
 * audience references, all / any / not). Every rule is checked with `parseRule`.
 */
import type { EvaluationEvent } from '../../shared/domain/audience/evaluate';
import { COUNT_OPS, parseRule, type EventRule, type Op, type Rule, type Scalar, type WhereClause } from '../../shared/domain/audience/rule';

export type Random = () => number;

const DAY_MS = 86_400_000;

export function pick<T>(random: Random, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

export function int(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

function chance(random: Random, p: number): boolean {
  return random() < p;
}

/** A value a rule can test, and how to draw realistic comparison values for it. */
export type FieldKind = 'enum' | 'text' | 'number' | 'date' | 'day' | 'array' | 'boolean';

export interface Field {
  /** A trait path (`address.city`) or an event property path (`items.count`). */
  path: string;
  kind: FieldKind;
  /** enum / array / text: values seen in the data (text: suffixes and prefixes to test). */
  values?: readonly string[];
  /** number: range of the data. */
  min?: number;
  max?: number;
  /** date / day: the data lies this many days before now, at most. */
  spanDays?: number;
}

export interface EventSpec {
  name: string;
  properties: readonly Field[];
}

export interface Vocabulary {
  traits: readonly Field[];
  events: readonly EventSpec[];
}

export interface Audience {
  id: string;
  rule: Rule;
}

export interface GeneratedProfile {
  id: string;
  traits: Record<string, unknown>;
  /** Event name → events ascending by timestamp. */
  events: Map<string, EvaluationEvent[]>;
  eventCount: number;
}

// --- the profile data of part (a) --------------------------------------------------------------

const PLANS = ['free', 'pro', 'enterprise'] as const;
const COUNTRIES = ['FR', 'DE', 'US', 'GB', 'ES', 'IT', 'NL', 'JP'] as const;
const CITIES = ['Paris', 'Lyon', 'Berlin', 'London', 'New York', 'Madrid', 'Rome', 'Amsterdam', 'Tokyo'] as const;
const DOMAINS = ['gmail.com', 'example.com', 'yahoo.fr', 'corp.io', 'outlook.com'] as const;
const TAGS = ['vip', 'beta', 'churn-risk', 'b2b', 'student', 'newsletter'] as const;
const INDUSTRIES = ['retail', 'saas', 'media', 'finance', 'health'] as const;
const CHANNELS = ['email', 'sms', 'push'] as const;
const LANGS = ['en', 'fr', 'de', 'ja'] as const;
const CURRENCIES = ['EUR', 'USD', 'GBP'] as const;
const CATEGORIES = ['shoes', 'shirts', 'bags', 'hats', 'watches'] as const;
const LOGIN_METHODS = ['password', 'sso', 'magic-link'] as const;
const PAGES = ['/pricing', '/docs', '/blog/launch', '/blog/tips', '/signup', '/account'] as const;
const CAMPAIGNS = ['welcome', 'promo-nov', 'promo-dec', 'digest', 'winback'] as const;
const PRIORITIES = ['low', 'normal', 'high'] as const;

/** The traits and events of the part (a) profiles, as the rule generator sees them. */
export const PROFILE_VOCABULARY: Vocabulary = {
  traits: [
    { path: 'plan', kind: 'enum', values: PLANS },
    { path: 'country', kind: 'enum', values: COUNTRIES },
    { path: 'age', kind: 'number', min: 16, max: 80 },
    { path: 'visits', kind: 'number', min: 0, max: 200 },
    { path: 'ltv', kind: 'number', min: 0, max: 5000 },
    { path: 'email', kind: 'text', values: ['@gmail.com', '@example.com', '.fr', 'user1', 'user'] },
    { path: 'newsletter', kind: 'boolean' },
    { path: 'tags', kind: 'array', values: TAGS },
    { path: 'address.city', kind: 'enum', values: CITIES },
    { path: 'address.zip', kind: 'text', values: ['75', '69', '10', '1', '0'] },
    { path: 'company.size', kind: 'number', min: 1, max: 5000 },
    { path: 'company.industry', kind: 'enum', values: INDUSTRIES },
    { path: 'prefs.channel', kind: 'enum', values: CHANNELS },
    { path: 'prefs.lang', kind: 'enum', values: LANGS },
    { path: 'signedUpAt', kind: 'date', spanDays: 1095 },
    { path: 'lastSeenAt', kind: 'date', spanDays: 90 },
    { path: 'birthday', kind: 'day', spanDays: 60 * 365 },
  ],
  events: [
    {
      name: 'Order Completed',
      properties: [
        { path: 'total', kind: 'number', min: 5, max: 500 },
        { path: 'currency', kind: 'enum', values: CURRENCIES },
        { path: 'items.count', kind: 'number', min: 1, max: 10 },
        { path: 'coupon', kind: 'text', values: ['WELCOME', 'BF', '10', 'X'] },
      ],
    },
    {
      name: 'Product Viewed',
      properties: [
        { path: 'price', kind: 'number', min: 5, max: 300 },
        { path: 'category', kind: 'enum', values: CATEGORIES },
        { path: 'sku', kind: 'text', values: ['SKU-1', 'SKU-2', '7'] },
      ],
    },
    { name: 'Logged In', properties: [{ path: 'method', kind: 'enum', values: LOGIN_METHODS }] },
    {
      name: 'Cart Abandoned',
      properties: [
        { path: 'value', kind: 'number', min: 5, max: 800 },
        { path: 'items.count', kind: 'number', min: 1, max: 10 },
      ],
    },
    { name: 'Page Viewed', properties: [{ path: 'path', kind: 'text', values: ['/blog', '/pricing', 'tips', '/docs'] }] },
    { name: 'Email Opened', properties: [{ path: 'campaign', kind: 'enum', values: CAMPAIGNS }] },
    {
      name: 'Subscription Started',
      properties: [
        { path: 'plan', kind: 'enum', values: ['pro', 'enterprise'] },
        { path: 'trialEndsAt', kind: 'date', spanDays: 60 },
      ],
    },
    { name: 'Support Ticket Opened', properties: [{ path: 'priority', kind: 'enum', values: PRIORITIES }] },
  ],
};

/** Relative frequency of each event name in the histories (same order as the vocabulary). */
const EVENT_WEIGHTS = [3, 10, 8, 2, 12, 5, 1, 1];

function isoAgo(nowMs: number, ms: number): string {
  return new Date(nowMs - ms).toISOString();
}

/** An ISO-8601 date-time in one of the shapes found in real traits (Z, offset, no seconds). */
function isoVariant(random: Random, at: number): string {
  const z = new Date(at).toISOString();
  const shape = random();
  if (shape < 0.7) return z;
  if (shape < 0.85) {
    // +02:00: the same instant written with an offset.
    const local = new Date(at + 2 * 3_600_000).toISOString().slice(0, 19);
    return `${local}+02:00`;
  }
  return z.slice(0, 16); // 2026-01-31T09:00 (no zone = UTC, no seconds)
}

function eventProperties(random: Random, name: string, nowMs: number): Record<string, unknown> {
  switch (name) {
    case 'Order Completed':
      return {
        total: Math.round((5 + random() * 495) * 100) / 100,
        currency: pick(random, CURRENCIES),
        items: { count: int(random, 1, 10) },
        ...(chance(random, 0.3) ? { coupon: pick(random, ['WELCOME10', 'BF2026', 'SPRING']) } : {}),
      };
    case 'Product Viewed':
      return { sku: `SKU-${int(random, 1, 400)}`, price: int(random, 5, 300), category: pick(random, CATEGORIES) };
    case 'Logged In':
      return { method: pick(random, LOGIN_METHODS) };
    case 'Cart Abandoned':
      return { value: int(random, 5, 800), items: { count: int(random, 1, 10) } };
    case 'Page Viewed':
      return { path: pick(random, PAGES) };
    case 'Email Opened':
      return { campaign: pick(random, CAMPAIGNS) };
    case 'Subscription Started':
      return { plan: pick(random, ['pro', 'enterprise']), trialEndsAt: isoAgo(nowMs, (int(random, -30, 30) * DAY_MS) / 2) };
    case 'Support Ticket Opened':
      return { priority: pick(random, PRIORITIES), channel: pick(random, CHANNELS) };
    default:
      return {};
  }
}

function weightedEventName(random: Random): string {
  const total = EVENT_WEIGHTS.reduce((a, b) => a + b, 0);
  let x = random() * total;
  for (const [i, w] of EVENT_WEIGHTS.entries()) {
    x -= w;
    if (x < 0) return PROFILE_VOCABULARY.events[i]?.name ?? 'Page Viewed';
  }
  return 'Page Viewed';
}

/** Profiles with realistic traits (some missing, nested objects, dates in several shapes) and 0–40 events over 120 days. */
export function generateProfiles(random: Random, count: number, nowMs: number): GeneratedProfile[] {
  const profiles: GeneratedProfile[] = [];
  for (let i = 0; i < count; i++) {
    const traits: Record<string, unknown> = {
      country: pick(random, COUNTRIES),
      visits: int(random, 0, 200),
      ltv: Math.round(random() * 5000 * 100) / 100,
      email: `user${i}@${pick(random, DOMAINS)}`,
      tags: TAGS.filter(() => chance(random, 0.2)),
      prefs: { channel: pick(random, CHANNELS), lang: pick(random, LANGS) },
      signedUpAt: isoVariant(random, nowMs - random() * 1095 * DAY_MS),
      lastSeenAt: isoVariant(random, nowMs - random() * 90 * DAY_MS),
      birthday: new Date(nowMs - (16 + random() * 60) * 365 * DAY_MS).toISOString().slice(0, 10),
    };
    if (chance(random, 0.9)) traits.plan = pick(random, PLANS);
    if (chance(random, 0.85)) traits.age = int(random, 16, 80);
    if (chance(random, 0.8)) traits.newsletter = chance(random, 0.5);
    if (chance(random, 0.9)) traits.address = { city: pick(random, CITIES), zip: String(int(random, 1000, 99999)) };
    if (chance(random, 0.6)) traits.company = { name: `Company ${int(random, 1, 500)}`, size: int(random, 1, 5000), industry: pick(random, INDUSTRIES) };
    // A few values of the wrong type or null, as real data has: the semantics must hold there too.
    if (chance(random, 0.03)) traits.visits = String(traits.visits);
    if (chance(random, 0.03)) traits.tags = (traits.tags as string[]).join(',');
    if (chance(random, 0.02)) traits.age = null;
    if (chance(random, 0.02)) traits.company = null;

    const events = new Map<string, EvaluationEvent[]>();
    const n = Math.floor(random() * random() * 41);
    for (let k = 0; k < n; k++) {
      const name = weightedEventName(random);
      // Recent activity is denser: a quarter of the events fall in the last two days.
      const ago = chance(random, 0.25) ? random() * 2 * DAY_MS : random() * 120 * DAY_MS;
      // `time` as the DynamoDB loader sets it: parsed once per load, not per evaluation.
      const timestamp = isoAgo(nowMs, ago);
      const event: EvaluationEvent = { event: name, timestamp, time: Date.parse(timestamp), properties: eventProperties(random, name, nowMs) };
      const list = events.get(name);
      if (list) list.push(event);
      else events.set(name, [event]);
    }
    for (const list of events.values()) list.sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp));
    profiles.push({ id: `p${i}`, traits, events, eventCount: n });
  }
  return profiles;
}

// --- a larger vocabulary for part (b) ------------------------------------------------------------

/** `traitCount` trait keys (some read through dotted paths) and `eventCount` event names with 3 properties each. */
export function syntheticVocabulary(traitCount: number, eventCount: number): Vocabulary {
  const kinds: FieldKind[] = ['enum', 'number', 'date', 'text', 'array', 'boolean', 'day'];
  const traits: Field[] = [];
  for (let i = 0; i < traitCount; i++) {
    const key = `trait${String(i).padStart(2, '0')}`;
    const kind = kinds[i % kinds.length] ?? 'enum';
    const path = i % 5 === 0 ? `${key}.value` : key;
    traits.push({ path, kind, values: ['a', 'b', 'c', 'd'], min: 0, max: 100, spanDays: 365 });
  }
  const events: EventSpec[] = [];
  for (let i = 0; i < eventCount; i++) {
    events.push({
      name: `Event ${String(i).padStart(2, '0')}`,
      properties: [
        { path: 'amount', kind: 'number', min: 0, max: 100 },
        { path: 'kind', kind: 'enum', values: ['a', 'b', 'c'] },
        { path: 'meta.at', kind: 'date', spanDays: 30 },
      ],
    });
  }
  return { traits, events };
}

// --- rules ---------------------------------------------------------------------------------------

const WITHINS = ['PT12H', 'P1D', 'P7D', 'P30D', 'P90D', 'P1M', 'P3M'] as const;
const WITHIN_LASTS = ['P7D', 'P30D', 'P90D', 'P6M', 'P1Y', 'P2Y'] as const;

function dateValue(random: Random, nowMs: number, spanDays: number, dayOnly: boolean): string {
  const at = nowMs - random() * spanDays * DAY_MS;
  const iso = new Date(at).toISOString();
  return dayOnly || chance(random, 0.4) ? iso.slice(0, 10) : iso;
}

/** An op and value that make sense for the field, drawn so that results are mixed. */
function condition(random: Random, field: Field, nowMs: number): { op: Op; value?: Scalar | Scalar[] } {
  const values = field.values ?? ['x'];
  const some = (): Scalar[] => values.filter(() => chance(random, 0.4)).concat(pick(random, values)).filter((v, i, all) => all.indexOf(v) === i);
  const number = (): number => Math.round((field.min ?? 0) + random() * ((field.max ?? 100) - (field.min ?? 0)));
  const x = random();
  switch (field.kind) {
    case 'enum':
      if (x < 0.3) return { op: 'eq', value: pick(random, values) };
      if (x < 0.45) return { op: 'neq', value: pick(random, values) };
      if (x < 0.65) return { op: 'in', value: some() };
      if (x < 0.75) return { op: 'not_in', value: some() };
      if (x < 0.85) return { op: 'exists' };
      if (x < 0.9) return { op: 'not_exists' };
      return { op: 'starts_with', value: pick(random, values).slice(0, 2) };
    case 'text':
      if (x < 0.35) return { op: 'ends_with', value: pick(random, values) };
      if (x < 0.6) return { op: 'contains', value: pick(random, values) };
      if (x < 0.7) return { op: 'not_contains', value: pick(random, values) };
      if (x < 0.85) return { op: 'starts_with', value: pick(random, values) };
      return { op: 'exists' };
    case 'number':
      if (x < 0.25) return { op: 'gt', value: number() };
      if (x < 0.5) return { op: 'gte', value: number() };
      if (x < 0.65) return { op: 'lt', value: number() };
      if (x < 0.8) return { op: 'lte', value: number() };
      if (x < 0.88) return { op: 'neq', value: number() };
      if (x < 0.94) return { op: 'in', value: [number(), number(), number()] };
      return { op: 'not_exists' };
    case 'date':
    case 'day': {
      const span = field.spanDays ?? 365;
      const dayOnly = field.kind === 'day';
      if (x < 0.25) return { op: 'after', value: dateValue(random, nowMs, span, dayOnly) };
      if (x < 0.45) return { op: 'before', value: dateValue(random, nowMs, span, dayOnly) };
      if (x < 0.55) return { op: 'gte', value: dateValue(random, nowMs, span, dayOnly) };
      if (x < 0.62) return { op: 'lt', value: dateValue(random, nowMs, span, dayOnly) };
      if (x < 0.85) return { op: 'within_last', value: pick(random, WITHIN_LASTS) };
      if (x < 0.93) return { op: 'eq', value: dateValue(random, nowMs, span, true) };
      return { op: 'exists' };
    }
    case 'array':
      if (x < 0.5) return { op: 'contains', value: pick(random, values) };
      if (x < 0.75) return { op: 'not_contains', value: pick(random, values) };
      if (x < 0.9) return { op: 'exists' };
      return { op: 'not_exists' };
    case 'boolean':
      if (x < 0.6) return { op: 'eq', value: chance(random, 0.5) };
      if (x < 0.8) return { op: 'neq', value: true };
      return { op: 'exists' };
    default:
      return { op: 'exists' };
  }
}

function traitLeaf(random: Random, vocabulary: Vocabulary, nowMs: number): Rule {
  const field = pick(random, vocabulary.traits);
  return { trait: field.path, ...condition(random, field, nowMs) };
}

function eventLeaf(random: Random, vocabulary: Vocabulary, nowMs: number): Rule {
  const spec = pick(random, vocabulary.events);
  const rule: EventRule = { event: spec.name };
  const whereCount = chance(random, 0.45) ? int(random, 1, 2) : 0;
  if (whereCount > 0) {
    const where: WhereClause[] = [];
    for (let i = 0; i < whereCount; i++) {
      const field = pick(random, spec.properties);
      where.push({ property: field.path, ...condition(random, field, nowMs) });
    }
    rule.where = where;
  }
  if (chance(random, 0.45)) {
    const op = random() < 0.6 ? 'gte' : pick(random, COUNT_OPS);
    rule.count = { op, value: int(random, op === 'lt' || op === 'lte' ? 1 : 0, 5) };
  }
  if (chance(random, 0.75)) rule.within = pick(random, WITHINS);
  // "did not perform X within ...": the not-within pattern.
  if (rule.within !== undefined && chance(random, 0.2)) return { not: rule };
  return rule;
}

function leaf(random: Random, vocabulary: Vocabulary, nowMs: number, earlier: readonly string[]): Rule {
  const x = random();
  if (earlier.length > 0 && x < 0.12) return { audience: pick(random, earlier) };
  if (x < 0.55) return traitLeaf(random, vocabulary, nowMs);
  return eventLeaf(random, vocabulary, nowMs);
}

function group(random: Random, vocabulary: Vocabulary, nowMs: number, earlier: readonly string[], depth: number): Rule {
  const size = int(random, 2, depth === 0 ? 4 : 3);
  const children: Rule[] = [];
  for (let i = 0; i < size; i++) {
    const nest = depth < 2 && chance(random, depth === 0 ? 0.3 : 0.15);
    children.push(nest ? group(random, vocabulary, nowMs, earlier, depth + 1) : leaf(random, vocabulary, nowMs, earlier));
  }
  const x = random();
  if (depth > 0 && x < 0.15) return { not: { all: children } };
  return x < (depth === 0 ? 0.65 : 0.5) ? { all: children } : { any: children };
}

/**
 * `count` audiences with ids `${prefix}0`, `${prefix}1` ...; an audience references only
 * audiences before it, so every prefix of the list is closed under references (no cycles).
 * The first audience always combines traits and events.
 */
export function generateAudiences(random: Random, count: number, vocabulary: Vocabulary, nowMs: number, prefix = 'aud'): Audience[] {
  const audiences: Audience[] = [];
  for (let i = 0; i < count; i++) {
    const earlier = audiences.map((a) => a.id);
    const rule: Rule =
      i === 0
        ? { all: [traitLeaf(random, vocabulary, nowMs), { any: [eventLeaf(random, vocabulary, nowMs), traitLeaf(random, vocabulary, nowMs)] }] }
        : group(random, vocabulary, nowMs, earlier, 0);
    const parsed = parseRule(rule);
    if (!parsed.ok) throw new Error(`generated an invalid rule: ${JSON.stringify(parsed.issues)} in ${JSON.stringify(rule)}`);
    audiences.push({ id: `${prefix}${i}`, rule: parsed.rule });
  }
  return audiences;
}

/** Shape statistics of a set of rules. */
export function ruleStats(audiences: readonly Audience[]): Record<string, number> {
  const stats: Record<string, number> = { nodes: 0, trait: 0, dotted: 0, date: 0, event: 0, where: 0, count: 0, within: 0, notWithin: 0, audience: 0, all: 0, any: 0, not: 0 };
  const bump = (key: string, by = 1): void => {
    stats[key] = (stats[key] ?? 0) + by;
  };
  const dateOps = new Set<Op>(['before', 'after', 'within_last']);
  const walk = (rule: Rule, underNot: boolean): void => {
    bump('nodes');
    if ('all' in rule) {
      bump('all');
      rule.all.forEach((child) => walk(child, false));
    } else if ('any' in rule) {
      bump('any');
      rule.any.forEach((child) => walk(child, false));
    } else if ('not' in rule) {
      bump('not');
      walk(rule.not, true);
    } else if ('trait' in rule) {
      bump('trait');
      if (rule.trait.includes('.')) bump('dotted');
      if (dateOps.has(rule.op) || (typeof rule.value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(rule.value))) bump('date');
    } else if ('event' in rule) {
      bump('event');
      if (rule.where) bump('where');
      if (rule.count) bump('count');
      if (rule.within) bump('within');
      if (underNot && rule.within) bump('notWithin');
    } else {
      bump('audience');
    }
  };
  for (const a of audiences) walk(a.rule, false);
  return stats;
}

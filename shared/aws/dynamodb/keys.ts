/**
 * Key builders for every item type of the single table. Keeping them in one place makes the
 * access patterns in docs/data-model.md greppable and stops ad-hoc string building elsewhere.
 */

import type { ProfileRef } from '../../domain/profile/profile';

export const PROFILE_SK = 'PROFILE';
export const EVENT_SK_PREFIX = 'EVT#';
export const ALIAS_SK_PREFIX = 'ALIAS#';

export function profilePk(ref: ProfileRef): string {
  return ref.kind === 'user' ? `USER#${ref.id}` : `ANON#${ref.id}`;
}

export function parseProfilePk(pk: string): ProfileRef | undefined {
  if (pk.startsWith('USER#')) return { kind: 'user', id: pk.slice(5) };
  if (pk.startsWith('ANON#')) return { kind: 'anonymous', id: pk.slice(5) };
  return undefined;
}

export function eventSk(messageId: string): string {
  return `${EVENT_SK_PREFIX}${messageId}`;
}

/** Sort key of the byTime index: ISO timestamps in UTC with milliseconds sort lexically. */
export function eventTimeSk(timestamp: string, messageId: string): string {
  return `${timestamp}#${messageId}`;
}

/** A link, under the surviving user, to a profile merged into it (erasure follows links). */
export function aliasSk(source: ProfileRef): string {
  return `${ALIAS_SK_PREFIX}${profilePk(source)}`;
}

export const MEMBERSHIP_SK_PREFIX = 'AUD#';
export const MESSAGE_SK_PREFIX = 'MSG#';

import { randomBytes } from 'node:crypto';

/**
 * Message ids sort by creation time (the profile's message log lists newest first by key) and
 * are unique without coordination: 9 base-36 digits of milliseconds, then 16 random hex digits.
 */
export function newMessageId(now: Date): string {
  return `msg_${now.getTime().toString(36).padStart(9, '0')}${randomBytes(8).toString('hex')}`;
}

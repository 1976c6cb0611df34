import { ValidationError } from '../../errors';

type Key = Record<string, unknown>;

/** Cursors are the DynamoDB LastEvaluatedKey, base64url-encoded: opaque to API callers. */
export function encodeCursor(key: Key | undefined): string | undefined {
  return key ? Buffer.from(JSON.stringify(key), 'utf8').toString('base64url') : undefined;
}

export function decodeCursor(cursor: string | undefined): Key | undefined {
  if (cursor === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const key = value as Key;
      if (Object.values(key).every((v) => typeof v === 'string')) return key;
    }
  } catch {
    // fall through to the validation error
  }
  throw invalidCursorError();
}

export function invalidCursorError(): ValidationError {
  return new ValidationError('cursor: is not a cursor returned by this API', [{ path: 'cursor', message: 'is not a cursor returned by this API' }]);
}

/**
 * One error base for everything a caller can be told about. Errors carry the HTTP status
 * they map to; anything else that escapes a handler becomes a generic 500.
 */
export interface ErrorIssue {
  path: string;
  message: string;
}

export class EngageError extends Error {
  readonly statusCode: number;
  readonly code: string;
  readonly issues?: ErrorIssue[];

  constructor(statusCode: number, code: string, message: string, issues?: ErrorIssue[], options?: ErrorOptions) {
    super(message, options);
    this.name = 'EngageError';
    this.statusCode = statusCode;
    this.code = code;
    this.issues = issues;
  }
}

export class ValidationError extends EngageError {
  constructor(message: string, issues?: ErrorIssue[], options?: ErrorOptions) {
    super(400, 'invalid_request', message, issues, options);
    this.name = 'ValidationError';
  }
}

export class UnauthorizedError extends EngageError {
  constructor(message = 'Missing or invalid credentials') {
    super(401, 'unauthorized', message);
    this.name = 'UnauthorizedError';
  }
}

export class NotFoundError extends EngageError {
  constructor(message: string) {
    super(404, 'not_found', message);
    this.name = 'NotFoundError';
  }
}

export class MethodNotAllowedError extends EngageError {
  constructor(message: string) {
    super(405, 'method_not_allowed', message);
    this.name = 'MethodNotAllowedError';
  }
}

export class ConflictError extends EngageError {
  constructor(message: string) {
    super(409, 'conflict', message);
    this.name = 'ConflictError';
  }
}

export class PayloadTooLargeError extends EngageError {
  constructor(message: string) {
    super(413, 'payload_too_large', message);
    this.name = 'PayloadTooLargeError';
  }
}

/** Raised by stores when an optimistic-concurrency check lost a race; callers retry. */
export class ConcurrentUpdateError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConcurrentUpdateError';
  }
}

export function assertUnreachable(value: never): never {
  throw new Error(`Unexpected value: ${JSON.stringify(value)}`);
}

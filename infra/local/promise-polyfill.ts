/**
 * `Promise.withResolvers` (ES2024) for Node 20: aws-local-stepfunctions 3.0.0 calls it in
 * every Task state (its engines say Node 22). Defined only when missing. Imported by the local
 * workflow runner, and by tests that run a state machine before anything else.
 */

interface Resolvers<T> {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
}

export function withResolvers<T>(): Resolvers<T> {
  let resolve: Resolvers<T>['resolve'] = () => undefined;
  let reject: Resolvers<T>['reject'] = () => undefined;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

// The project's lib is ES2023, which does not declare it: test for the property itself.
if (!('withResolvers' in Promise) || typeof Reflect.get(Promise, 'withResolvers') !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', { value: withResolvers, writable: true, configurable: true });
}


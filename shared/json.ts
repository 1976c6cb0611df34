/** JSON text parsed, or `undefined` when it is not JSON (or absent): for input that may be anything. */
export function parseJsonOrUndefined(text: string | null | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

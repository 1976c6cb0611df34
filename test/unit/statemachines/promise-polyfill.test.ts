import '../../../infra/local/promise-polyfill';

describe('the Promise.withResolvers polyfill', () => {
  it('gives a promise with its resolve and reject', async () => {
    // Prepare
    const withResolvers: unknown = Reflect.get(Promise, 'withResolvers');
    // Act
    const resolved = typeof withResolvers === 'function' ? Reflect.apply(withResolvers, Promise, []) : undefined;
    const rejected = typeof withResolvers === 'function' ? Reflect.apply(withResolvers, Promise, []) : undefined;
    resolved?.resolve('done');
    rejected?.reject(new Error('no'));
    // Assess
    expect(typeof withResolvers).toBe('function');
    await expect(resolved?.promise).resolves.toBe('done');
    await expect(rejected?.promise).rejects.toThrow('no');
  });

  it('keeps a native implementation when there is one (defined once, on Promise itself)', () => {
    // Assess
    expect(Object.getOwnPropertyDescriptor(Promise, 'withResolvers')).toMatchObject({ writable: true, configurable: true });
  });
});

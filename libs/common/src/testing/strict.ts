/**
 * `impl` as a `T` that throws on any member it does not have: a unit test's fake collaborator
 * through which nothing is called unnoticed.
 */
export function strict<T extends object>(name: string, impl: object): T {
  return new Proxy(impl, {
    get(target, prop, receiver) {
      if (typeof prop === 'symbol' || prop in target) {
        return Reflect.get(target, prop, receiver) as unknown;
      }
      throw new Error(`${name}.${prop} is not stubbed`);
    },
  }) as T;
}

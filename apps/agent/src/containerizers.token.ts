/** Injection token of the containerizers this agent can use, in order of preference. */
export const CONTAINERIZERS = Symbol('kiln:containerizers');

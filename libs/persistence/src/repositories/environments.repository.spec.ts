import { describe, expect, it } from 'vitest';
import { chainOrder } from './environments.repository';

describe('chainOrder', () => {
  it('puts each environment after the one it follows, whatever order they were created in', () => {
    const envs = [
      { id: 'p', previousId: 's' },
      { id: 'q' },
      { id: 's', previousId: 'd' },
      { id: 'd' },
    ];
    expect(chainOrder(envs).map((e) => e.id)).toEqual(['q', 'd', 's', 'p']);
  });

  it('keeps environments whose previous one is unknown, and puts a cycle last', () => {
    const envs = [
      { id: 'a', previousId: 'b' },
      { id: 'b', previousId: 'a' },
      { id: 'c', previousId: 'gone' },
    ];
    expect(chainOrder(envs).map((e) => e.id)).toEqual(['c', 'a', 'b']);
  });
});

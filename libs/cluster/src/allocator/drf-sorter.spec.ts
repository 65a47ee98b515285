import { describe, expect, it } from 'vitest';
import { DrfSorter, type SorterClient } from './drf-sorter';

function client(name: string, key = 0): SorterClient {
  return { name, key, sorterIndex: -1 };
}

function names(sorter: DrfSorter<SorterClient>): string[] {
  return sorter.ordered().map((c) => c.name);
}

describe(DrfSorter.name, () => {
  it('orders by key, then by name whatever the insertion order', () => {
    const sorter = new DrfSorter<SorterClient>();
    for (const c of [client('c', 0.5), client('b', 0.1), client('a', 0.5), client('d', 0)]) {
      sorter.insert(c);
    }
    expect(names(sorter)).toEqual(['d', 'b', 'a', 'c']);
  });

  it('moves a client right when its key grows and left when it shrinks', () => {
    const sorter = new DrfSorter<SorterClient>();
    const [a, b, c, d] = [client('a', 1), client('b', 2), client('c', 3), client('d', 4)];
    for (const x of [a, b, c, d]) sorter.insert(x);

    sorter.rekey(a, 3);
    expect(names(sorter)).toEqual(['b', 'a', 'c', 'd']);
    sorter.rekey(d, 0);
    expect(names(sorter)).toEqual(['d', 'b', 'a', 'c']);
    sorter.rekey(b, 10);
    expect(names(sorter)).toEqual(['d', 'a', 'c', 'b']);
    sorter.rekey(c, 3);
    expect(names(sorter)).toEqual(['d', 'a', 'c', 'b']);
  });

  it('removes clients and refuses to remove one it does not hold', () => {
    const sorter = new DrfSorter<SorterClient>();
    const [a, b] = [client('a'), client('b')];
    sorter.insert(a);
    sorter.insert(b);
    sorter.remove(a);
    expect(names(sorter)).toEqual(['b']);
    expect(sorter.has(a)).toBe(false);
    expect(() => sorter.remove(a)).toThrow('sorter does not hold "a"');
  });

  it('sorts once after invalidate instead of moving each rekeyed client', () => {
    const sorter = new DrfSorter<SorterClient>();
    const clients = ['a', 'b', 'c', 'd'].map((n, i) => client(n, i));
    for (const c of clients) sorter.insert(c);

    sorter.invalidate();
    clients.forEach((c, i) => sorter.rekey(c, 10 - i));
    sorter.insert(client('e', 0));
    sorter.reorder();

    expect(names(sorter)).toEqual(['e', 'd', 'c', 'b', 'a']);
  });

  it('finds the first client in order that accepts, without changing the order', () => {
    const sorter = new DrfSorter<SorterClient>();
    for (let i = 0; i < 20; i++) sorter.insert(client(`c${String(i).padStart(2, '0')}`, i % 4));
    const before = names(sorter);
    const seen: string[] = [];

    const found = sorter.find((c) => {
      seen.push(c.name);
      return c.key === 2 && c.name > 'c05';
    });

    expect(found?.name).toBe('c06');
    expect(seen).toEqual(before.slice(0, before.indexOf('c06') + 1));
    expect(names(sorter)).toEqual(before);
    expect(sorter.find(() => false)).toBeUndefined();
    expect(new DrfSorter<SorterClient>().find(() => true)).toBeUndefined();
  });

  it('stays sorted through many random moves', () => {
    const sorter = new DrfSorter<SorterClient>();
    const clients = Array.from({ length: 50 }, (_, i) => client(`c${i}`, i % 7));
    for (const c of clients) sorter.insert(c);
    let seed = 7;
    const random = (): number => (seed = (seed * 48271) % 2147483647) / 2147483647;
    for (let i = 0; i < 2000; i++) {
      const c = clients[Math.floor(random() * clients.length)];
      if (c) sorter.rekey(c, Math.floor(random() * 10));
    }
    for (let i = 0; i < 10; i++) {
      const c = clients.pop();
      if (c) sorter.remove(c);
    }
    const expected = [...clients].sort((x, y) => x.key - y.key || (x.name < y.name ? -1 : 1));
    expect(sorter.ordered()).toEqual(expected);
    // find walks the same order: reject everything and record the walk.
    const walked: SorterClient[] = [];
    sorter.find((c) => walked.push(c) < 0);
    expect(walked).toEqual(expected);
  });
});

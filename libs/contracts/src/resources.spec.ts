import { describe, expect, it } from 'vitest';
import {
  add,
  contains,
  formatResources,
  parseAttributes,
  parseResources,
  resources,
  ResourceSyntaxError,
  shortfall,
  subtract,
  type PortRange,
} from './resources';

describe(parseResources.name, () => {
  it('reads the agents text form', () => {
    expect(parseResources('cpus:4;mem:8192;disk:20000;ports:[31000-32000]')).toEqual({
      cpus: 4,
      mem: 8192,
      disk: 20000,
      ports: [[31000, 32000]],
    });
  });

  it('accepts fractional cpus, single ports, spaces and merges adjacent ranges', () => {
    expect(parseResources(' cpus: 0.5 ; ports:[80, 81-90,95-99,100] ')).toEqual({
      cpus: 0.5,
      mem: 0,
      disk: 0,
      ports: [
        [80, 90],
        [95, 100],
      ],
    });
  });

  it.each([
    ['cpus:four', /cpus must be a non-negative number, got "four"/],
    ['cpus:-1', /cpus must be a non-negative number/],
    ['gpus:1', /unknown resource "gpus"/],
    ['cpus', /"cpus" is not name:value/],
    ['ports:31000-32000', /ports must look like \[31000-32000\]/],
    ['ports:[32000-31000]', /"32000-31000" is not a port range/],
    ['ports:[1-70000]', /not a port range within 0-65535/],
  ])('rejects %s naming what is wrong', (text, message) => {
    expect(() => parseResources(text)).toThrow(ResourceSyntaxError);
    expect(() => parseResources(text)).toThrow(message);
  });

  it('round-trips through formatResources', () => {
    const text = 'cpus:2.5;mem:1024;disk:10;ports:[8000-8010,9000]';
    expect(parseResources(formatResources(parseResources(text)))).toEqual(parseResources(text));
  });
});

describe('resource arithmetic', () => {
  const agent = resources({ cpus: 4, mem: 4096, disk: 100, ports: [[31000, 31010]] });
  const task = resources({ cpus: 0.1, mem: 64, ports: [[31005, 31005]] });

  it('adds and subtracts scalars and port ranges', () => {
    const left = subtract(agent, task);
    expect(left).toEqual({
      cpus: 3.9,
      mem: 4032,
      disk: 100,
      ports: [
        [31000, 31004],
        [31006, 31010],
      ],
    });
    expect(add(left, task)).toEqual(agent);
  });

  it('is not fooled by floating point dust', () => {
    const three = add(
      add(resources({ cpus: 0.1 }), resources({ cpus: 0.1 })),
      resources({ cpus: 0.1 }),
    );
    expect(contains(resources({ cpus: 0.3 }), three)).toBe(true);
  });

  it('changes a long port list where a port comes or goes, keeping the ranges it does not touch', () => {
    // Every other port, as thousands of single-port tasks leave an agent's: a list copied and
    // sorted anew on each change made giving them all back quadratic.
    const ports = Array.from({ length: 2_000 }, (_, i): PortRange => [2 * i, 2 * i]);
    const free = resources({ ports });
    const released = add(free, resources({ ports: [[1_001, 1_001]] }));
    expect(released.ports.slice(499, 502)).toEqual([
      [998, 998],
      [1_000, 1_002],
      [1_004, 1_004],
    ]);
    expect(released.ports[0]).toBe(free.ports[0]);
    expect(released.ports[1_998]).toBe(free.ports[1_999]);

    const taken = subtract(released, resources({ ports: [[1_001, 1_001]] }));
    expect(taken).toEqual(free);
    expect(taken.ports[0]).toBe(free.ports[0]);
    expect(taken.ports[1_999]).toBe(free.ports[1_999]);
  });

  it('says what is missing', () => {
    expect(contains(agent, resources({ cpus: 8 }))).toBe(false);
    expect(shortfall(agent, resources({ cpus: 8, ports: [[80, 80]] }))).toEqual([
      'needs 8 cpus, has 4',
      'ports 80 are not available',
    ]);
  });
});

describe(parseAttributes.name, () => {
  it('reads name:value pairs and refuses malformed ones', () => {
    expect(parseAttributes('os:linux;rack:a1')).toEqual({ os: 'linux', rack: 'a1' });
    expect(() => parseAttributes('rack')).toThrow(/"rack" is not name:value/);
  });
});

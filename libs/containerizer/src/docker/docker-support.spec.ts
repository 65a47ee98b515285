import { describe, expect, it } from 'vitest';
import { mergeUsage, registryHostOf, usageOfStats } from './docker-support';

describe(registryHostOf.name, () => {
  it('reads the registry host as the engine does, Docker Hub when there is none', () => {
    expect(registryHostOf('busybox')).toBe('docker.io');
    expect(registryHostOf('library/busybox:1.36')).toBe('docker.io');
    expect(registryHostOf('127.0.0.1:5000/kiln-test/busybox:latest')).toBe('127.0.0.1:5000');
    expect(registryHostOf('registry.example.com/team/app')).toBe('registry.example.com');
    expect(registryHostOf('localhost/app')).toBe('localhost');
  });
});

describe(usageOfStats.name, () => {
  it('takes CPU seconds, memory without the page cache, and the peak', () => {
    expect(
      usageOfStats({
        cpu_stats: { cpu_usage: { total_usage: 1_500_000_000 } },
        memory_stats: { usage: 10_000, max_usage: 20_000, stats: { total_inactive_file: 4_000 } },
      }),
    ).toEqual({ cpuSeconds: 1.5, memBytes: 6_000, memPeakBytes: 20_000 });
  });

  it("says nothing for a stopped container's empty sample", () => {
    expect(usageOfStats({ cpu_stats: { cpu_usage: { total_usage: 0 } }, memory_stats: {} })).toBe(
      undefined,
    );
  });

  it('never lowers the peak', () => {
    expect(mergeUsage({ memPeakBytes: 9 }, { memBytes: 1, memPeakBytes: 2 })).toEqual({
      memBytes: 1,
      memPeakBytes: 9,
    });
  });
});

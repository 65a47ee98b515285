export * from './allocator/drf-sorter';
export * from './allocator/hierarchical-drf.allocator';

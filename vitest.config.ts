import { readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// `@kiln/<lib>` resolves to the lib's source, as tsconfig's paths do for the compiler.
const libs = readdirSync(resolve(__dirname, 'libs'));
const alias = [
  ...libs.map((lib) => ({
    find: new RegExp(`^@kiln/${lib}/testing$`),
    replacement: resolve(__dirname, `libs/${lib}/src/testing`),
  })),
  ...libs.map((lib) => ({
    find: new RegExp(`^@kiln/${lib}$`),
    replacement: resolve(__dirname, `libs/${lib}/src`),
  })),
];

// SWC compiles the tests because NestJS needs decorator metadata, which esbuild does not emit.
const plugins = [swc.vite({ module: { type: 'es6' } })];

export default defineConfig({
  plugins,
  resolve: { alias },
  test: {
    // Unit and integration files wait on databases, git, runc and Docker far more than they
    // compute: two at a time even on two cores, so one's waits overlap the other's work.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    projects: [
      {
        plugins,
        resolve: { alias },
        test: {
          name: 'unit',
          include: [
            'apps/**/*.spec.ts',
            'libs/**/*.spec.ts',
            'scripts/**/*.spec.ts',
            'test/unit/**/*.spec.ts',
          ],
          // The web app's pure helpers have unit specs beside them; its build output has none.
          exclude: ['**/node_modules/**', 'apps/web/dist/**'],
          // Unit files share one process: they touch no process-wide state, and a fresh process
          // per file costs four times what the tests do (checked with shuffled file orders).
          isolate: false,
        },
      },
      {
        plugins,
        resolve: { alias },
        test: {
          name: 'integration',
          include: [
            'apps/**/*.int-spec.ts',
            'libs/**/*.int-spec.ts',
            'test/integration/**/*.int-spec.ts',
          ],
          exclude: ['**/node_modules/**', 'apps/web/**'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        plugins,
        resolve: { alias },
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.e2e-spec.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Whole processes on a 2-core machine: one file at a time, after the unit and
          // integration files (a later group), keeps their timing sane.
          poolOptions: { forks: { singleFork: true } },
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});

import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Paths are relative to the repository root, where `npm run build:web` runs.
export default defineConfig({
  root: 'apps/web',
  plugins: [react()],
  // The generated API types' enumerations are values too: resolve the lib as tsconfig's paths do.
  resolve: {
    alias: {
      '@kiln/api-types': fileURLToPath(new URL('../../libs/api-types/src', import.meta.url)),
    },
  },
  build: {
    // Beside the server's build: `npm start` serves it from there (apps/server/src/web-app.ts).
    outDir: '../../dist/web',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
  },
  server: {
    // `npm run dev:web` against a server started with `npm start` (default port 8080).
    proxy: { '/api': 'http://127.0.0.1:8080', '/hooks': 'http://127.0.0.1:8080' },
  },
});

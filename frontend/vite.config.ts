import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// Relative base: the same bundle is served by Wails (desktop) and by `loopat serve`.
export default defineConfig({
  plugins: [react()],
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true, // scripts/keep-dist.mjs puts dist/.gitkeep back (the Go binary embeds dist/)
    chunkSizeWarningLimit: 900,
  },
  server: {
    // `npm run dev` against a running `loopat serve` (set LOOPAT_API to its origin).
    proxy: process.env.LOOPAT_API
      ? { '/api': { target: process.env.LOOPAT_API, ws: true, changeOrigin: true } }
      : undefined,
  },
  test: { environment: 'node', include: ['src/**/*.test.ts'] },
});

import { defineConfig } from 'vitest/config';
import type { Plugin } from 'vite';
import react from '@vitejs/plugin-react';

// The loop page is the app's main view: its chunk, the chunks it imports and the markdown
// renderer are announced in index.html (<link rel=modulepreload>), so the browser fetches
// and compiles them beside the main chunk instead of after the main chunk has run and
// asked for them. (Vite preloads a lazy chunk's imports only once import() runs.)
const PRELOADED = ['src/loop/LoopPage.tsx', 'src/loop/markdownRender.ts'];
function preloadLoopPage(): Plugin {
  return {
    name: 'loopat-preload-loop-page',
    apply: 'build',
    transformIndexHtml: {
      order: 'post',
      handler(_html, ctx) {
        const bundle = ctx.bundle;
        if (!bundle) return [];
        const files = new Set<string>();
        const add = (file: string) => {
          const c = bundle[file];
          if (!c || c.type !== 'chunk' || c.isEntry || files.has(file)) return;
          files.add(file);
          c.imports.forEach(add);
        };
        for (const c of Object.values(bundle)) {
          if (c.type === 'chunk' && c.facadeModuleId && PRELOADED.some((m) => c.facadeModuleId!.endsWith(m))) add(c.fileName);
        }
        if (files.size < PRELOADED.length) throw new Error(`preload: a chunk of ${PRELOADED.join(', ')} is missing from the build`);
        return [...files].map((f) => ({ tag: 'link', attrs: { rel: 'modulepreload', crossorigin: true, href: `./${f}` }, injectTo: 'head' as const }));
      },
    },
  };
}

// Relative base: the same bundle is served by Wails (desktop) and by `loopat serve`.
export default defineConfig({
  plugins: [react(), preloadLoopPage()],
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

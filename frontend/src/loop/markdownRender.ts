// The markdown renderer (react-markdown + GFM, about 170 KB): loaded on its own by
// Markdown.tsx, so a loop page shows its chat as plain text without waiting for it.
import type React from 'react';
import Markdown from 'react-markdown';
import remarkGfm from 'remark-gfm';

// Rendered markdown by source text: parsing is the costliest part of a row, and a
// virtualised row is mounted again each time it scrolls back into view. React elements
// are immutable, so one rendering serves every mount. Bounded, oldest dropped first.
const MARKDOWN_CACHE_SIZE = 400;
const markdownCache = new Map<string, React.ReactElement>();
const REMARK_PLUGINS = [remarkGfm];

export function renderMarkdown(text: string, live = false): React.ReactElement {
  // Partial text being streamed is rendered once and never again: not worth a cache slot.
  if (live) return Markdown({ children: text, remarkPlugins: REMARK_PLUGINS }) as React.ReactElement;
  const hit = markdownCache.get(text);
  if (hit) return hit;
  // Markdown is a plain synchronous function component: calling it gives the element tree.
  const el = Markdown({ children: text, remarkPlugins: REMARK_PLUGINS }) as React.ReactElement;
  markdownCache.set(text, el);
  if (markdownCache.size > MARKDOWN_CACHE_SIZE) markdownCache.delete(markdownCache.keys().next().value!);
  return el;
}

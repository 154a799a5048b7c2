// highlight.js core with a handful of languages keeps the bundle small.
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import css from 'highlight.js/lib/languages/css';
import diff from 'highlight.js/lib/languages/diff';
import dockerfile from 'highlight.js/lib/languages/dockerfile';
import go from 'highlight.js/lib/languages/go';
import ini from 'highlight.js/lib/languages/ini';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import markdown from 'highlight.js/lib/languages/markdown';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';
import sql from 'highlight.js/lib/languages/sql';
import makefile from 'highlight.js/lib/languages/makefile';

const langs = { bash, css, diff, dockerfile, go, ini, javascript, json, markdown, python, rust, typescript, xml, yaml, sql, makefile };
for (const [name, def] of Object.entries(langs)) hljs.registerLanguage(name, def);

const BY_EXT: Record<string, string> = {
  sh: 'bash', bash: 'bash', zsh: 'bash', css: 'css', scss: 'css', diff: 'diff', patch: 'diff', go: 'go', mod: 'go',
  toml: 'ini', ini: 'ini', cfg: 'ini', conf: 'ini', js: 'javascript', mjs: 'javascript', cjs: 'javascript', jsx: 'javascript',
  json: 'json', md: 'markdown', py: 'python', rs: 'rust', ts: 'typescript', tsx: 'typescript', html: 'xml', xml: 'xml',
  svg: 'xml', yml: 'yaml', yaml: 'yaml', sql: 'sql', mk: 'makefile',
};

export function languageFor(path: string): string | undefined {
  const base = path.split('/').pop() ?? '';
  if (/^Dockerfile|^Containerfile/.test(base)) return 'dockerfile';
  if (base === 'Makefile') return 'makefile';
  return BY_EXT[base.split('.').pop()?.toLowerCase() ?? ''];
}

/** Highlighted HTML (escaped by highlight.js) or null when the language is unknown. */
export function highlight(code: string, lang?: string): string | null {
  if (!lang || !hljs.getLanguage(lang) || code.length > 400_000) return null;
  return hljs.highlight(code, { language: lang, ignoreIllegals: true }).value;
}

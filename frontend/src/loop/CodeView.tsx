import { useMemo } from 'react';
import { highlight } from './highlight';

/** Highlighted code; lineNumbers adds a gutter (the Files viewer). */
export function CodeView({ code, lang, testid, lineNumbers }: { code: string; lang?: string; testid?: string; lineNumbers?: boolean }) {
  const html = useMemo(() => highlight(code, lang), [code, lang]);
  const body = html !== null ? <code dangerouslySetInnerHTML={{ __html: html }} /> : <code>{code}</code>;
  if (!lineNumbers) {
    return (
      <pre className="code-view hljs" data-testid={testid}>
        {body}
      </pre>
    );
  }
  const lines = code.endsWith('\n') ? code.split('\n').length - 1 : code.split('\n').length;
  const gutter = Array.from({ length: Math.max(1, lines) }, (_, i) => i + 1).join('\n');
  return (
    <div className="code-lines">
      <pre className="code-gutter" aria-hidden data-testid={testid ? `${testid}-lines` : undefined}>
        {gutter}
      </pre>
      <pre className="code-view hljs" data-testid={testid}>
        {body}
      </pre>
    </div>
  );
}

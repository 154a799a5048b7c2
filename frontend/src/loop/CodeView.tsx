import { useMemo } from 'react';
import { highlight } from './highlight';

export function CodeView({ code, lang, testid }: { code: string; lang?: string; testid?: string }) {
  const html = useMemo(() => highlight(code, lang), [code, lang]);
  return (
    <pre className="code-view hljs" data-testid={testid}>
      {html !== null ? <code dangerouslySetInnerHTML={{ __html: html }} /> : <code>{code}</code>}
    </pre>
  );
}

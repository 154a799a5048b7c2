// Markdown text in the chat. The renderer is a chunk of its own (markdownRender.ts): until
// it has loaded, a text shows as plain wrapped text (every character there, in order), then
// every mounted text re-renders formatted. Opening a loop so shows its last reply without
// waiting for the renderer's download, compile and first (cold) parse.
import { memo, useSyncExternalStore } from 'react';

type Render = (text: string, live?: boolean) => React.ReactElement;

let render: Render | null = null;
const waiting = new Set<() => void>();

/** Starts loading the renderer (idempotent); resolves once formatted text can render. */
export const loadMarkdown: () => Promise<void> = (() => {
  let loading: Promise<void> | null = null;
  return () =>
    (loading ??= import('./markdownRender').then(
      (m) => {
        render = m.renderMarkdown;
        for (const wake of waiting) wake();
      },
      (e) => {
        loading = null; // a failed chunk load (app updated underneath) is retried by the next text
        console.warn('markdown renderer did not load; texts stay plain', e);
      },
    ));
})();

const subscribe = (wake: () => void) => {
  waiting.add(wake);
  return () => waiting.delete(wake);
};
const ready = () => render !== null;

export const MarkdownText = memo(function MarkdownText({ text, live }: { text: string; live?: boolean }) {
  const formatted = useSyncExternalStore(subscribe, ready);
  if (!formatted || !render) {
    void loadMarkdown();
    return (
      <div className="markdown markdown-plain" data-plain="">
        <p>{text}</p>
      </div>
    );
  }
  return <div className="markdown">{render(text, live)}</div>;
});

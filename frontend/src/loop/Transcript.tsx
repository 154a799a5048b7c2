// Renders a loop's transcript: Claude Code stream-json lines plus our own
// user_input / error lines, with tool results folded into their tool cards.
import { memo, useMemo, useState } from 'react';
import Markdown from 'react-markdown';
import remarkGfm from 'remark-gfm';
import type { Msg } from '../api/services';
import { formatTime } from '../ui';

import { collectToolResults, interruptedResults, resultText, summarizeInput, type Streaming, type ToolResult } from './transcript';

export function Transcript({ messages, streaming, working }: { messages: Msg[]; streaming: Streaming; working: boolean }) {
  const results = useMemo(() => collectToolResults(messages), [messages]);
  const hasUserInput = useMemo(() => messages.some((m) => m.type === 'user_input'), [messages]);
  const interrupted = useMemo(() => interruptedResults(messages), [messages]);
  return (
    <div className="transcript" data-testid="messages">
      {messages.map((m, i) => (interrupted.has(i) ? null : <Line key={i} msg={m} results={results} hasUserInput={hasUserInput} />))}
      {(streaming.thinking || streaming.text || streaming.tool) && (
        <div className="msg msg-assistant streaming" data-testid="streaming">
          {streaming.thinking && (
            <details className="thinking" open>
              <summary>Thinking…</summary>
              <div className="thinking-body">{streaming.thinking}</div>
            </details>
          )}
          {streaming.text && <MarkdownText text={streaming.text} />}
          {streaming.tool && !streaming.text && <div className="muted small">Preparing a tool call…</div>}
        </div>
      )}
      {working && !streaming.text && !streaming.thinking && !streaming.tool && (
        <div className="working-indicator" data-testid="working">
          <span className="spinner" /> Agent is working…
        </div>
      )}
    </div>
  );
}

const Line = memo(function Line({
  msg,
  results,
  hasUserInput,
}: {
  msg: Msg;
  results: Map<string, ToolResult>;
  hasUserInput: boolean;
}) {
  switch (msg.type) {
    case 'user_input':
      return (
        <div className="msg msg-user" data-testid="msg-user">
          <div className="msg-text">{msg.text}</div>
          {msg.ts && <div className="msg-time">{formatTime(msg.ts)}</div>}
        </div>
      );
    case 'user': {
      const content = msg.message?.content;
      // The CLI may echo what the user typed; we already show our own user_input line.
      if (typeof content === 'string') {
        return hasUserInput ? null : (
          <div className="msg msg-user" data-testid="msg-user">
            <div className="msg-text">{content}</div>
          </div>
        );
      }
      if (!Array.isArray(content)) return null;
      const texts = content.filter((c) => c?.type === 'text' && c.text).map((c) => c.text as string);
      if (texts.length === 0 || hasUserInput) return null;
      return (
        <div className="msg msg-user" data-testid="msg-user">
          <div className="msg-text">{texts.join('\n')}</div>
        </div>
      );
    }
    case 'assistant': {
      const content = msg.message?.content;
      if (!Array.isArray(content)) return null;
      return (
        <div className="msg msg-assistant" data-testid="msg-assistant">
          {content.map((c, i) => {
            if (c?.type === 'text') return <MarkdownText key={i} text={c.text ?? ''} />;
            if (c?.type === 'thinking')
              return (
                <details key={i} className="thinking">
                  <summary>Thinking</summary>
                  <div className="thinking-body">{c.thinking}</div>
                </details>
              );
            if (c?.type === 'tool_use') return <ToolCard key={i} use={c} result={results.get(c.id)} />;
            return null;
          })}
        </div>
      );
    }
    case 'system':
      if (msg.subtype !== 'init') return null;
      return (
        <div className="msg-divider">
          Session started{msg.model ? ` · ${msg.model}` : ''}
          {msg.permissionMode ? ` · ${msg.permissionMode}` : ''}
        </div>
      );
    case 'result':
      return <ResultLine msg={msg} />;
    case 'interrupted':
      return (
        <div className="msg-divider msg-divider-interrupted" data-testid="interrupted">
          Interrupted{msg.ts ? ` · ${formatTime(msg.ts)}` : ''}
        </div>
      );
    case 'error':
      return (
        <div className="error-card" data-testid="error-card" role="alert">
          <div className="error-card-title">Something went wrong</div>
          <div>{msg.message}</div>
          {msg.hint && <div className="error-card-hint">{msg.hint}</div>}
          {msg.ts && <div className="msg-time">{formatTime(msg.ts)}</div>}
        </div>
      );
    default:
      return null;
  }
});

function ResultLine({ msg }: { msg: Msg }) {
  const secs = typeof msg.duration_ms === 'number' ? `${(msg.duration_ms / 1000).toFixed(1)} s` : '';
  const usage = msg.usage ? `${msg.usage.input_tokens ?? 0} in · ${msg.usage.output_tokens ?? 0} out` : '';
  if (msg.is_error) {
    return (
      <div className="error-card" data-testid="error-card" role="alert">
        <div className="error-card-title">The turn ended with an error{msg.subtype ? ` (${msg.subtype})` : ''}</div>
        {msg.result && <div>{String(msg.result)}</div>}
      </div>
    );
  }
  return <div className="msg-divider">Turn finished{secs && ` in ${secs}`}{usage && ` · ${usage}`}</div>;
}

export function MarkdownText({ text }: { text: string }) {
  return (
    <div className="markdown">
      <Markdown remarkPlugins={[remarkGfm]}>{text}</Markdown>
    </div>
  );
}

function ToolCard({ use, result }: { use: any; result?: ToolResult }) {
  const [open, setOpen] = useState(false);
  const name = String(use.name ?? 'tool');
  if (name === 'TodoWrite' && Array.isArray(use.input?.todos)) return <TodoList todos={use.input.todos} />;
  const summary = summarizeInput(name, use.input);
  const out = result ? resultText(result.content) : '';
  const state = !result ? 'running' : result.is_error ? 'failed' : 'done';
  return (
    <div className={`tool-card tool-${state}`} data-testid="tool-card" data-tool={name}>
      <button className="tool-head" onClick={() => setOpen(!open)} aria-expanded={open}>
        <span className="tool-name">{name}</span>
        <span className="tool-summary">{summary}</span>
        <span className={`tool-state state-${state}`}>{state === 'running' ? '…' : state === 'failed' ? '✗' : '✓'}</span>
      </button>
      {open && (
        <div className="tool-body">
          <div className="tool-label">Input</div>
          <pre>{JSON.stringify(use.input, null, 2)}</pre>
          {result && (
            <>
              <div className="tool-label">{result.is_error ? 'Error' : 'Result'}</div>
              <pre data-testid="tool-result">{out || '(no output)'}</pre>
            </>
          )}
        </div>
      )}
      {!open && result && out && (
        <pre className="tool-preview" data-testid="tool-result">
          {out.split('\n').slice(0, 4).join('\n')}
          {out.split('\n').length > 4 ? '\n…' : ''}
        </pre>
      )}
    </div>
  );
}

function TodoList({ todos }: { todos: { content: string; status: string; activeForm?: string }[] }) {
  return (
    <div className="todo-list" data-testid="todo-list">
      <div className="tool-label">Plan</div>
      <ul>
        {todos.map((t, i) => (
          <li key={i} className={`todo todo-${t.status}`}>
            <span className="todo-box" aria-hidden>
              {t.status === 'completed' ? '✓' : t.status === 'in_progress' ? '▸' : '○'}
            </span>
            {t.status === 'in_progress' && t.activeForm ? t.activeForm : t.content}
          </li>
        ))}
      </ul>
    </div>
  );
}

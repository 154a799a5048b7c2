// What the loop's agent waits for: permission requests, questions and plans to approve
// (LoopService.Pending / Answer; "loop:<id>:pending" when the list changes).
import { useState } from 'react';
import { call } from '../api/rpc';
import type { Pending, PendingAnswer } from '../api/generated';
import { useAction, useEvent, useLoad } from '../ui';
import { MarkdownText } from './Transcript';
import './pending.css';

const pendingTopic = (id: string) => `loop:${id}:pending`;

function answer(loopId: string, p: Pending, a: Partial<PendingAnswer>) {
  return call('LoopService', 'Answer', loopId, p.id, { allow: false, always: false, rule: '', message: '', answers: null, ...a });
}

/** The open requests of a loop, newest last; nothing when none waits. */
export function PendingCards({ loopId }: { loopId: string }) {
  const list = useLoad(() => call('LoopService', 'Pending', loopId).then((l) => l ?? []), [loopId]);
  useEvent(pendingTopic(loopId), (items: Pending[] | null) => list.set(items ?? []));
  useEvent(`loop:${loopId}:status`, () => list.reload());
  const items = list.data ?? [];
  if (items.length === 0) return null;
  return (
    <div className="pending-list" data-testid="pending-list">
      {items.map((p) => (
        <PendingCard key={p.id} loopId={loopId} p={p} onDone={() => list.reload()} />
      ))}
    </div>
  );
}

type Input = Record<string, unknown>;

function PendingCard({ loopId, p, onDone }: { loopId: string; p: Pending; onDone: () => void }) {
  const input = (p.input ?? {}) as Input;
  if (p.kind === 'question') return <QuestionCard loopId={loopId} p={p} input={input} onDone={onDone} />;
  if (p.kind === 'plan') return <PlanCard loopId={loopId} p={p} input={input} onDone={onDone} />;
  return <PermissionCard loopId={loopId} p={p} input={input} onDone={onDone} />;
}

function PermissionCard({ loopId, p, input, onDone }: { loopId: string; p: Pending; input: Input; onDone: () => void }) {
  const act = useAction();
  const [note, setNote] = useState('');
  const [denying, setDenying] = useState(false);
  const send = (a: Partial<PendingAnswer>) => act.run(() => answer(loopId, p, a)).then(onDone);
  return (
    <div className="pending-card" data-testid="pending-card" data-kind="permission">
      <div className="pending-head">
        <span className="pending-badge">Needs your permission</span> The agent wants to use <b>{p.tool}</b>
      </div>
      <ToolInput tool={p.tool} input={input} />
      {denying ? (
        <div className="pending-deny">
          <textarea
            className="input"
            rows={2}
            autoFocus
            placeholder="Tell the agent why, or what to do instead (optional)"
            value={note}
            onChange={(e) => setNote(e.target.value)}
            data-testid="pending-deny-note"
          />
          <div className="pending-actions">
            <button className="btn btn-danger" disabled={act.busy} onClick={() => send({ allow: false, message: note.trim() })} data-testid="pending-deny-send">
              Deny
            </button>
            <button className="btn" disabled={act.busy} onClick={() => setDenying(false)}>
              Back
            </button>
          </div>
        </div>
      ) : (
        <div className="pending-actions">
          <button className="btn btn-primary" disabled={act.busy} onClick={() => send({ allow: true })} data-testid="pending-allow">
            Allow once
          </button>
          {p.rule && (
            <button
              className="btn"
              disabled={act.busy}
              title={`Store the rule ${p.rule} for this loop: matching requests run without asking (removable in the loop's settings)`}
              onClick={() => send({ allow: true, always: true, rule: p.rule })}
              data-testid="pending-always"
            >
              Allow always: <code>{p.rule}</code>
            </button>
          )}
          <button className="btn" disabled={act.busy} onClick={() => setDenying(true)} data-testid="pending-deny">
            Deny…
          </button>
        </div>
      )}
    </div>
  );
}

/** A tool's input as a person reads it: a command, a diff, a file, else JSON. */
export function ToolInput({ tool, input }: { tool: string; input: Input }) {
  const str = (k: string) => (typeof input[k] === 'string' ? (input[k] as string) : '');
  if (tool === 'Bash' && str('command')) {
    return (
      <div className="pending-input">
        {str('description') && <div className="muted">{str('description')}</div>}
        <pre className="pending-code" data-testid="pending-command">$ {str('command')}</pre>
      </div>
    );
  }
  if ((tool === 'Edit' || tool === 'MultiEdit') && str('file_path')) {
    const edits = Array.isArray(input.edits)
      ? (input.edits as Input[])
      : [{ old_string: input.old_string, new_string: input.new_string }];
    return (
      <div className="pending-input">
        <div className="pending-path">{str('file_path')}</div>
        {edits.map((e, i) => (
          <Diff key={i} before={String(e.old_string ?? '')} after={String(e.new_string ?? '')} />
        ))}
      </div>
    );
  }
  if (tool === 'Write' && str('file_path')) {
    return (
      <div className="pending-input">
        <div className="pending-path">{str('file_path')} (new content)</div>
        <Diff before="" after={str('content')} />
      </div>
    );
  }
  return <pre className="pending-code">{clip(JSON.stringify(input, null, 2))}</pre>;
}

const MAX_LINES = 400;

function clip(s: string): string {
  const lines = s.split('\n');
  return lines.length > MAX_LINES ? lines.slice(0, MAX_LINES).join('\n') + `\n… ${lines.length - MAX_LINES} more lines` : s;
}

/** A line diff: the removed lines, then the added ones (an edit's old and new text). */
export function diffRows(before: string, after: string): { sign: ' ' | '-' | '+'; text: string }[] {
  const old = before === '' ? [] : before.split('\n');
  const neu = after === '' ? [] : after.split('\n');
  let pre = 0;
  while (pre < old.length && pre < neu.length && old[pre] === neu[pre]) pre++;
  let post = 0;
  while (post < old.length - pre && post < neu.length - pre && old[old.length - 1 - post] === neu[neu.length - 1 - post]) post++;
  return [
    ...old.slice(0, pre).map((t) => ({ sign: ' ' as const, text: t })),
    ...old.slice(pre, old.length - post).map((t) => ({ sign: '-' as const, text: t })),
    ...neu.slice(pre, neu.length - post).map((t) => ({ sign: '+' as const, text: t })),
    ...old.slice(old.length - post).map((t) => ({ sign: ' ' as const, text: t })),
  ];
}

function Diff({ before, after }: { before: string; after: string }) {
  const rows = diffRows(before, after);
  const shown = rows.slice(0, MAX_LINES);
  return (
    <pre className="pending-diff" data-testid="pending-diff">
      {shown.map((r, i) => (
        <div key={i} className={r.sign === '+' ? 'diff-add' : r.sign === '-' ? 'diff-del' : 'diff-ctx'}>
          {r.sign} {r.text}
        </div>
      ))}
      {rows.length > shown.length && <div className="muted">… {rows.length - shown.length} more lines</div>}
    </pre>
  );
}

type Question = { question?: string; header?: string; multiSelect?: boolean; options?: { label?: string; description?: string }[] };

function QuestionCard({ loopId, p, input, onDone }: { loopId: string; p: Pending; input: Input; onDone: () => void }) {
  const act = useAction();
  const questions = (Array.isArray(input.questions) ? input.questions : []) as Question[];
  const [picked, setPicked] = useState<Record<number, string[]>>({});
  const [other, setOther] = useState<Record<number, string>>({});
  const toggle = (qi: number, label: string, multi: boolean) =>
    setPicked((s) => {
      const cur = s[qi] ?? [];
      return { ...s, [qi]: multi ? (cur.includes(label) ? cur.filter((l) => l !== label) : [...cur, label]) : [label] };
    });
  const answers: Record<string, string> = {};
  questions.forEach((q, qi) => {
    const parts = [...(picked[qi] ?? [])];
    if ((other[qi] ?? '').trim()) parts.push(other[qi].trim());
    if (parts.length) answers[q.question ?? `Question ${qi + 1}`] = parts.join(', ');
  });
  const complete = questions.length > 0 && Object.keys(answers).length === questions.length;
  return (
    <div className="pending-card" data-testid="pending-card" data-kind="question">
      <div className="pending-head">
        <span className="pending-badge">Question</span> The agent asks
      </div>
      {questions.map((q, qi) => (
        <fieldset key={qi} className="pending-question">
          <legend>
            {q.header && <span className="pending-badge subtle">{q.header}</span>} {q.question}
          </legend>
          {(q.options ?? []).map((o, oi) => (
            <label key={oi} className="pending-option">
              <input
                type={q.multiSelect ? 'checkbox' : 'radio'}
                name={`${p.id}-${qi}`}
                checked={(picked[qi] ?? []).includes(o.label ?? '')}
                onChange={() => toggle(qi, o.label ?? '', !!q.multiSelect)}
              />
              <span>
                <b>{o.label}</b> {o.description && <span className="muted">{o.description}</span>}
              </span>
            </label>
          ))}
          <input
            className="input"
            placeholder="Other answer"
            value={other[qi] ?? ''}
            onChange={(e) => setOther((s) => ({ ...s, [qi]: e.target.value }))}
            data-testid="pending-other"
          />
        </fieldset>
      ))}
      <div className="pending-actions">
        <button
          className="btn btn-primary"
          disabled={act.busy || !complete}
          onClick={() => act.run(() => answer(loopId, p, { allow: true, answers })).then(onDone)}
          data-testid="pending-submit"
        >
          Answer
        </button>
        <button className="btn" disabled={act.busy} onClick={() => act.run(() => answer(loopId, p, { allow: false })).then(onDone)}>
          Decline
        </button>
      </div>
    </div>
  );
}

function PlanCard({ loopId, p, input, onDone }: { loopId: string; p: Pending; input: Input; onDone: () => void }) {
  const act = useAction();
  const [note, setNote] = useState('');
  // The pinned CLI keeps the plan in its own file and asks with an empty input.
  const plan = typeof input.plan === 'string' && input.plan ? input.plan : '_The plan is in the agent’s messages above._';
  return (
    <div className="pending-card" data-testid="pending-card" data-kind="plan">
      <div className="pending-head">
        <span className="pending-badge">Plan</span> The agent proposes this plan
      </div>
      <div className="pending-plan">
        <MarkdownText text={plan} />
      </div>
      <textarea
        className="input"
        rows={2}
        placeholder="What to change (for Keep planning)"
        value={note}
        onChange={(e) => setNote(e.target.value)}
      />
      <div className="pending-actions">
        <button className="btn btn-primary" disabled={act.busy} onClick={() => act.run(() => answer(loopId, p, { allow: true })).then(onDone)} data-testid="pending-approve">
          Approve
        </button>
        <button
          className="btn"
          disabled={act.busy}
          onClick={() => act.run(() => answer(loopId, p, { allow: false, message: note.trim() })).then(onDone)}
          data-testid="pending-keep-planning"
        >
          Keep planning
        </button>
      </div>
    </div>
  );
}

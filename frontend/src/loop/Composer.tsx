// The composer: the text box with the CLI's slash commands, an @ file picker over the
// workdir, ↑/↓ history, pasted or dropped images (sent as image content blocks) and files
// (written into the workdir's uploads/), the context meter, "New session", and the queue.
import './composer.css';
import { useEffect, useRef, useState } from 'react';
import { call } from '../api/rpc';
import { LoopService, PERMISSION_MODES, type LoopMeta, type QueueItem } from '../api/services';
import type { ComposerState, ImageAttachment } from '../api/generated';
import { useAction, useEvent, useLoad, useToasts } from '../ui';
import { PermissionRules } from './PermissionRules';
import { ModelPicker } from './ModelPicker';
import { withQueuedText } from './transcript';
import {
  applyPick,
  caretOnEdgeLine,
  contextMeter,
  filterCommands,
  historyStep,
  IMAGE_TYPES,
  MAX_IMAGE_BYTES,
  MAX_IMAGES,
  MAX_UPLOAD_BYTES,
  splitDataUrl,
  triggerAt,
  type Trigger,
} from './composerText';

/** The app's own commands, offered beside the CLI's. */
const LOCAL_COMMANDS: Record<string, string> = { clear: 'New session: a fresh conversation (the transcript stays)' };

interface PastedImage extends ImageAttachment {
  name: string;
}

export function Composer({
  meta,
  working,
  queued,
  onQueued,
  onQueueTaken,
  onMeta,
}: {
  meta: LoopMeta;
  working: boolean;
  queued: number;
  onQueued: () => void;
  onQueueTaken: () => void;
  onMeta: (m: LoopMeta) => void;
}) {
  const id = meta.id;
  const [text, setText] = useState('');
  const [sending, setSending] = useState(false);
  const [images, setImages] = useState<PastedImage[]>([]);
  const [trigger, setTrigger] = useState<Trigger | null>(null);
  const [items, setItems] = useState<string[]>([]);
  const [sel, setSel] = useState(0);
  const [histIndex, setHistIndex] = useState<number | null>(null); // null: not browsing
  const draft = useRef('');
  const box = useRef<HTMLTextAreaElement>(null);
  const toasts = useToasts();
  const { run } = useAction();
  const state = useLoad<ComposerState>(() => call('LoopService', 'Composer', id), [id]);
  const history = useLoad<string[]>(() => call('LoopService', 'History', id).then((h) => h ?? []), [id]);
  useEvent(`loop:${id}:composer`, (st: ComposerState) => state.set(st));

  const commands = Array.from(new Set([...Object.keys(LOCAL_COMMANDS), ...(state.data?.commands ?? [])]));

  // The menu follows the caret: slash commands from the CLI's list, paths from the workdir.
  useEffect(() => {
    if (!trigger) return setItems([]);
    if (trigger.kind === 'slash') {
      setItems(filterCommands(commands, trigger.query));
      setSel(0);
      return;
    }
    let live = true;
    const t = setTimeout(() => {
      call('LoopService', 'FindFiles', id, trigger.query)
        .then((f) => {
          if (live) {
            setItems((f ?? []).slice(0, 12));
            setSel(0);
          }
        })
        .catch(() => live && setItems([]));
    }, 80);
    return () => {
      live = false;
      clearTimeout(t);
    };
    // commands changes identity each render; its content is state.data.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [trigger?.kind, trigger?.query, state.data, id]);

  const interrupt = (keepQueue: boolean) =>
    run(async () => {
      const back = await LoopService.Interrupt(id, keepQueue);
      if (!keepQueue) onQueueTaken();
      if (back.length > 0) setText((cur) => withQueuedText(cur, back));
    });

  const newSession = () =>
    run(async () => {
      await call('LoopService', 'NewSession', id);
      toasts.info('New session: the next message starts a fresh conversation.');
    });

  const updateTrigger = (value: string, caret: number) => setTrigger(triggerAt(value, caret));

  const pick = (choice: string) => {
    if (!trigger) return;
    const next = applyPick(text, trigger, choice);
    setText(next.text);
    setTrigger(choice.endsWith('/') ? triggerAt(next.text, next.caret) : null);
    requestAnimationFrame(() => {
      box.current?.focus();
      box.current?.setSelectionRange(next.caret, next.caret);
    });
  };

  const recall = (dir: -1 | 1): boolean => {
    const h = history.data ?? [];
    const cur = histIndex ?? h.length;
    const next = historyStep(h, cur, dir);
    if (next === null) return false;
    if (histIndex === null) draft.current = text;
    const value = next === h.length ? draft.current : h[next];
    setHistIndex(next === h.length ? null : next);
    setText(value);
    requestAnimationFrame(() => box.current?.setSelectionRange(value.length, value.length));
    return true;
  };

  const addFiles = async (files: File[]) => {
    for (const f of files) {
      if (IMAGE_TYPES.includes(f.type)) {
        if (f.size > MAX_IMAGE_BYTES) {
          toasts.error(new Error(`${f.name || 'The image'} is larger than ${MAX_IMAGE_BYTES >> 20} MiB.`));
          continue;
        }
        const url = await readDataUrl(f);
        const img = splitDataUrl(url);
        if (!img) continue;
        setImages((cur) => (cur.length >= MAX_IMAGES ? cur : [...cur, { ...img, name: f.name || 'pasted image' }]));
        continue;
      }
      if (f.size > MAX_UPLOAD_BYTES) {
        toasts.error(new Error(`${f.name} is larger than ${MAX_UPLOAD_BYTES >> 20} MiB: copy it into the workdir another way.`));
        continue;
      }
      const data = splitDataUrl(await readDataUrl(f));
      await run(async () => {
        const path = await call('LoopService', 'Upload', id, f.name, data?.data ?? '');
        setText((cur) => (cur && !cur.endsWith(' ') && !cur.endsWith('\n') ? cur + ' ' : cur) + '@' + path + ' ');
        toasts.info(`Uploaded to ${path}`);
      });
    }
  };

  if (meta.archived) {
    return (
      <div className="composer composer-archived" data-testid="composer">
        <textarea className="input composer-input" disabled rows={2} placeholder="This loop is archived. Unarchive to continue." data-testid="composer-input" />
        <div className="composer-bar">
          <span className="small muted" data-testid="archived-note">
            Archived loops take no messages.
          </span>
          <span className="grow" />
          <button
            className="btn btn-primary"
            onClick={() =>
              run(async () => {
                await LoopService.Archive(id, false);
                onMeta({ ...meta, archived: false });
              })
            }
            data-testid="unarchive"
          >
            Unarchive to continue
          </button>
        </div>
      </div>
    );
  }

  const send = async () => {
    const t = text.trim();
    if ((!t && images.length === 0) || sending) return;
    if (t === '/clear' && images.length === 0) {
      setText('');
      setTrigger(null);
      return newSession();
    }
    setSending(true);
    try {
      const res =
        images.length > 0
          ? await call('LoopService', 'SendWithImages', id, t || 'See the attached image.', images.map(({ mediaType, data }) => ({ mediaType, data })))
          : await LoopService.Send(id, t);
      setText('');
      setImages([]);
      setTrigger(null);
      setHistIndex(null);
      history.update((h) => (h && h[h.length - 1] === t ? h : [...(h ?? []), t]));
      if (res?.queued) onQueued();
    } catch (e) {
      toasts.error(e); // the text and images stay so nothing is lost
    } finally {
      setSending(false);
    }
  };

  const menuOpen = trigger !== null && items.length > 0;
  const ctx = state.data?.context;
  const meter = ctx && ctx.used > 0 ? contextMeter(ctx.used, ctx.window) : null;

  return (
    <div
      className="composer"
      data-testid="composer"
      onDragOver={(e) => {
        if (e.dataTransfer.types.includes('Files')) e.preventDefault();
      }}
      onDrop={(e) => {
        if (e.dataTransfer.files.length === 0) return;
        e.preventDefault();
        addFiles(Array.from(e.dataTransfer.files));
      }}
    >
      {menuOpen && (
        <div className="composer-menu" role="listbox" data-testid={trigger.kind === 'slash' ? 'slash-menu' : 'file-menu'}>
          {items.map((it, i) => (
            <div
              key={it}
              role="option"
              aria-selected={i === sel}
              className={`composer-menu-item ${i === sel ? 'active' : ''}`}
              onMouseDown={(e) => {
                e.preventDefault(); // keep the focus in the box
                pick(it);
              }}
              data-testid="composer-menu-item"
            >
              <span className="composer-menu-name">{trigger.kind === 'slash' ? '/' + it : it}</span>
              {trigger.kind === 'slash' && LOCAL_COMMANDS[it] && <span className="muted small"> {LOCAL_COMMANDS[it]}</span>}
            </div>
          ))}
        </div>
      )}
      {images.length > 0 && (
        <div className="composer-chips" data-testid="composer-images">
          {images.map((img, i) => (
            <span className="composer-chip" key={i} title={img.name} data-testid="image-chip">
              <img src={`data:${img.mediaType};base64,${img.data}`} alt={img.name} />
              <button className="icon-btn" aria-label={`Remove ${img.name}`} onClick={() => setImages((cur) => cur.filter((_, j) => j !== i))}>
                ×
              </button>
            </span>
          ))}
        </div>
      )}
      <textarea
        ref={box}
        className="input composer-input"
        placeholder={
          working
            ? 'The agent is working — your message will be queued'
            : 'Message the agent (Enter to send, Shift+Enter for a new line, / for commands, @ for files, ↑ for history)'
        }
        value={text}
        rows={Math.min(10, Math.max(2, text.split('\n').length))}
        onChange={(e) => {
          setText(e.target.value);
          setHistIndex(null);
          updateTrigger(e.target.value, e.target.selectionStart ?? e.target.value.length);
        }}
        onSelect={(e) => updateTrigger(e.currentTarget.value, e.currentTarget.selectionStart ?? 0)}
        onBlur={() => setTrigger(null)}
        onPaste={(e) => {
          const files = Array.from(e.clipboardData.files);
          if (files.length === 0) return;
          e.preventDefault();
          addFiles(files);
        }}
        onKeyDown={(e) => {
          if (e.nativeEvent.isComposing) return;
          if (menuOpen) {
            if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
              e.preventDefault();
              setSel((s) => (s + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length);
              return;
            }
            if (e.key === 'Enter' || e.key === 'Tab') {
              e.preventDefault();
              pick(items[sel]);
              return;
            }
            if (e.key === 'Escape') {
              e.preventDefault();
              setTrigger(null);
              return;
            }
          }
          if ((e.key === 'ArrowUp' || e.key === 'ArrowDown') && !e.shiftKey && !e.altKey) {
            const dir = e.key === 'ArrowUp' ? -1 : 1;
            const el = e.currentTarget;
            const onEdge = el.selectionStart === el.selectionEnd && caretOnEdgeLine(text, el.selectionStart, dir);
            if ((histIndex !== null || dir < 0) && onEdge && recall(dir)) e.preventDefault();
            return;
          }
          if (e.key === 'Enter' && !e.shiftKey) {
            e.preventDefault();
            send();
          }
        }}
        data-testid="composer-input"
      />
      <div className="composer-bar">
        <label className="small muted">
          Permissions{' '}
          <select
            className="input input-small"
            value={meta.permissionMode || 'bypassPermissions'}
            onChange={(e) => {
              const mode = e.target.value;
              run(async () => {
                await LoopService.SetPermissionMode(id, mode);
                onMeta({ ...meta, permissionMode: mode });
              });
            }}
            data-testid="permission-mode"
          >
            {PERMISSION_MODES.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </label>
        <PermissionRules loopId={id} />
        <ModelPicker loopId={id} model={meta.model} provider={meta.provider} onChange={(model, provider = meta.provider) => onMeta({ ...meta, model, provider })} />
        {meter && (
          <span
            className={`context-meter context-${meter.level}`}
            title={`Context used by the last model call${ctx?.model ? ` (${ctx.model})` : ''}: ${meter.label}. A new session starts empty.`}
            data-testid="context-meter"
          >
            <span className="context-meter-bar">
              <span style={{ width: `${meter.percent}%` }} />
            </span>
            {meter.shown}
          </span>
        )}
        <button className="btn btn-small" disabled={working} onClick={newSession} title="Start a fresh conversation (/clear); the transcript stays on screen" data-testid="new-session">
          New session
        </button>
        <span className="grow" />
        {working && queued > 0 && (
          <button className="btn" onClick={() => interrupt(true)} title="Stop the current turn; the queued messages are sent after it" data-testid="interrupt-keep-queue">
            Interrupt, keep queue
          </button>
        )}
        {working && (
          <button
            className="btn btn-danger"
            onClick={() => interrupt(false)}
            title={queued > 0 ? 'Stop the current turn; the queued messages come back into the box' : 'Stop the current turn'}
            data-testid="interrupt"
          >
            Interrupt
          </button>
        )}
        <button className="btn btn-primary" disabled={(!text.trim() && images.length === 0) || sending} onClick={send} data-testid="send">
          {working ? 'Queue' : 'Send'}
        </button>
      </div>
    </div>
  );
}

function readDataUrl(f: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result));
    r.onerror = () => reject(r.error ?? new Error(`could not read ${f.name}`));
    r.readAsDataURL(f);
  });
}

/** The queued messages: each editable in place or removable, and all clearable. */
export function ComposerQueue({ id, items, onChange }: { id: string; items: QueueItem[]; onChange: (q: QueueItem[]) => void }) {
  const { run } = useAction();
  const [editing, setEditing] = useState<string | null>(null);
  const [draft, setDraft] = useState('');
  if (items.length === 0) return null;
  const save = (q: QueueItem) =>
    run(async () => {
      const t = draft.trim();
      if (t && t !== q.text) {
        await call('LoopService', 'EditQueued', id, q.id, t);
        onChange(items.map((x) => (x.id === q.id ? { ...x, text: t } : x)));
      }
      setEditing(null);
    });
  return (
    <div className="queue" data-testid="queue">
      <div className="queue-title">
        Queued — sent when the agent finishes its turn
        <button
          className="btn btn-small queue-clear"
          onClick={() =>
            run(async () => {
              await call('LoopService', 'ClearQueue', id);
              onChange([]);
            })
          }
          data-testid="queue-clear"
        >
          Clear all
        </button>
      </div>
      {items.map((q) => (
        <div className="queue-item" key={q.id} data-testid="queue-item">
          {editing === q.id ? (
            <input
              className="input input-small queue-edit"
              autoFocus
              value={draft}
              onChange={(e) => setDraft(e.target.value)}
              onBlur={() => save(q)}
              onKeyDown={(e) => {
                if (e.key === 'Enter') save(q);
                if (e.key === 'Escape') setEditing(null);
              }}
              data-testid="queue-edit-input"
            />
          ) : (
            <span
              className="queue-text"
              title="Click to edit"
              onClick={() => {
                setEditing(q.id);
                setDraft(q.text);
              }}
              data-testid="queue-text"
            >
              {q.text}
              {q.imageCount ? <span className="muted small"> · {q.imageCount} image{q.imageCount > 1 ? 's' : ''}</span> : null}
            </span>
          )}
          <button
            className="icon-btn"
            aria-label="Edit queued message"
            onClick={() => {
              setEditing(q.id);
              setDraft(q.text);
            }}
            data-testid="queue-edit"
          >
            ✎
          </button>
          <button
            className="icon-btn"
            aria-label="Remove from queue"
            onClick={() =>
              run(async () => {
                await LoopService.Unqueue(id, q.id);
                onChange(items.filter((x) => x.id !== q.id));
              })
            }
          >
            ×
          </button>
        </div>
      ))}
    </div>
  );
}

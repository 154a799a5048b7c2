// The Focus board: markdown boards in the notes repository (each change is one commit).
// Columns with cards, HTML5 drag and drop between columns, card details with
// "Create loop" / "Link loop", and the linked loop's live status on the card.
import { useEffect, useRef, useState } from 'react';
import { Link, NavLink, useNavigate, useParams, useSearchParams } from 'react-router-dom';
import { RECONNECTED } from '../api/client';
import { KanbanService, moreTopics, type Board, type Card, type Column } from '../api/more';
import { LoopService, topics, type LoopMeta } from '../api/services';
import { Modal } from '../components/Modal';
import { applyMove, boardNameError, firstMessage, isNoop, targetIndex } from '../kanban/move';
import { ConfirmButton, InlineError, Spinner, useAction, useEvent, useLoad, useToasts } from '../ui';
import '../styles-more.css';

const DRAG_TYPE = 'application/x-loopat-card';

export function KanbanPage() {
  const { board } = useParams();
  const boards = useLoad<string[]>(() => KanbanService.Boards(), []);
  useEvent(moreTopics.kanbanChanged, () => boards.reload());
  useEvent(RECONNECTED, () => boards.reload());
  const nav = useNavigate();
  // /kanban alone opens the first board (default first) when there is one.
  useEffect(() => {
    if (!board && boards.data && boards.data.length > 0) nav(`/kanban/${encodeURIComponent(boards.data[0])}`, { replace: true });
  }, [board, boards.data, nav]);
  return (
    <div className="page kanban-page" data-testid="kanban-page">
      <div className="page-head">
        <div>
          <h1>Focus</h1>
          <p className="muted">Boards live as markdown in the notes repository; every change is a commit.</p>
        </div>
      </div>
      <div className="kanban-layout">
        <aside className="board-list" data-testid="board-list">
          <div className="muted small">Boards</div>
          {boards.loading && !boards.data && <Spinner />}
          <InlineError text={boards.error} onRetry={() => boards.reload()} />
          {(boards.data ?? []).map((b) => (
            <NavLink key={b} to={`/kanban/${encodeURIComponent(b)}`} className="board-link" data-testid="board-link" data-board={b}>
              {b}
            </NavLink>
          ))}
          <NewBoard
            onCreated={(name) => {
              boards.update((prev) => (prev ?? []).concat((prev ?? []).includes(name) ? [] : [name]));
              boards.reload();
              nav(`/kanban/${encodeURIComponent(name)}`);
            }}
          />
        </aside>
        <div className="board-area">
          {/* Boards() prepares the notes repository, so a board is read only after it answered. */}
          {board && boards.data && boards.data.includes(board) ? (
            <BoardView key={board} name={board} />
          ) : board && boards.data ? (
            <div className="empty" data-testid="kanban-no-board">
              <div className="empty-title">No board named “{board}”</div>
              <p>Pick a board on the left or create it there.</p>
            </div>
          ) : (
            boards.data &&
            boards.data.length === 0 && (
              <div className="empty" data-testid="kanban-empty">
                <div className="empty-title">No boards yet</div>
                <p>Create a board on the left (for example “default”): it starts with To do, Doing and Done.</p>
              </div>
            )
          )}
        </div>
      </div>
    </div>
  );
}

function NewBoard({ onCreated }: { onCreated: (name: string) => void }) {
  const [name, setName] = useState('');
  const [error, setError] = useState<string>();
  const { busy, run } = useAction();
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const n = name.trim();
    const err = boardNameError(n);
    setError(err);
    if (err) return;
    const b = await run(() => KanbanService.CreateBoard(n));
    if (b) {
      setName('');
      onCreated(b.name || n);
    }
  };
  return (
    <form className="new-board" onSubmit={submit}>
      <input className="input input-small" placeholder="new-board" value={name} onChange={(e) => setName(e.target.value)} data-testid="board-name" />
      <button className="btn btn-small" disabled={busy} data-testid="board-create">
        + Board
      </button>
      {error && <div className="inline-error small">{error}</div>}
    </form>
  );
}

interface Drag {
  column: string;
  cardId: string;
  index: number;
}

function BoardView({ name }: { name: string }) {
  const board = useLoad<Board>(() => KanbanService.Board(name), [name]);
  useEvent(moreTopics.kanbanChanged, (d: { board?: string }) => {
    if (!d?.board || d.board === name) board.reload();
  });
  useEvent(RECONNECTED, () => board.reload());
  const { run } = useAction();
  const [drag, setDrag] = useState<Drag | null>(null);
  const [dropAt, setDropAt] = useState<{ column: string; before: number } | null>(null);
  const [openCard, setOpenCard] = useState<{ column: string; cardId: string } | null>(null);
  const [addingColumn, setAddingColumn] = useState('');
  // ?card=<id> (the loop page's link back to its card) opens that card once the board is read.
  const [params, setParams] = useSearchParams();
  const wanted = params.get('card');
  useEffect(() => {
    if (!wanted || !board.data) return;
    const col = (board.data.columns ?? []).find((c) => (c.cards ?? []).some((x) => x.id === wanted));
    if (col) setOpenCard({ column: col.id, cardId: wanted });
    setParams({}, { replace: true });
  }, [wanted, board.data, setParams]);

  if (board.loading && !board.data) return <Spinner label="Loading board…" />;
  if (board.error && !board.data) return <InlineError text={board.error} onRetry={() => board.reload()} />;
  const b = board.data!;
  const columns = b.columns ?? [];

  const drop = async (toColumn: string, before: number) => {
    const d = drag;
    setDrag(null);
    setDropAt(null);
    if (!d) return;
    const same = d.column === toColumn;
    const len = (columns.find((c) => c.id === toColumn)?.cards ?? []).length;
    if (isNoop(same, d.index, before, len)) return;
    const index = targetIndex(same, d.index, before);
    board.set(applyMove(b, d.column, d.cardId, toColumn, index)); // optimistic; the event reload confirms
    const ok = await run(async () => {
      await KanbanService.MoveCard(name, d.column, d.cardId, toColumn, index);
      return true;
    });
    if (!ok) board.reload();
  };

  const addColumn = async (e: React.FormEvent) => {
    e.preventDefault();
    const t = addingColumn.trim();
    if (!t) return;
    const c = await run(() => KanbanService.AddColumn(name, t));
    if (c) {
      setAddingColumn('');
      board.reload();
    }
  };

  const open = openCard && columns.find((c) => c.id === openCard.column)?.cards?.find((c) => c.id === openCard.cardId);

  return (
    <div className="board" data-testid="board" data-board={name}>
      <div className="columns">
        {columns.map((col) => (
          <ColumnView
            key={col.id}
            board={name}
            column={col}
            drag={drag}
            dropAt={dropAt?.column === col.id ? dropAt.before : null}
            onDragStart={(cardId, index) => setDrag({ column: col.id, cardId, index })}
            onDragEnd={() => {
              setDrag(null);
              setDropAt(null);
            }}
            onHover={(before) => setDropAt({ column: col.id, before })}
            onDrop={(before) => drop(col.id, before)}
            onOpen={(cardId) => setOpenCard({ column: col.id, cardId })}
            onChanged={() => board.reload()}
          />
        ))}
        <form className="column column-new" onSubmit={addColumn} data-testid="column-new-form">
          <input
            className="input input-small"
            placeholder="New column"
            value={addingColumn}
            onChange={(e) => setAddingColumn(e.target.value)}
            data-testid="column-new"
          />
          <button className="btn btn-small" disabled={!addingColumn.trim()}>
            + Column
          </button>
        </form>
      </div>
      {columns.length === 0 && (
        <div className="empty">
          <div className="empty-title">This board has no columns</div>
          <p>Add one with “+ Column”.</p>
        </div>
      )}
      {openCard && open && (
        <CardDetails
          board={name}
          column={openCard.column}
          columns={columns}
          card={open}
          onClose={() => setOpenCard(null)}
          onChanged={(c, column) => {
            if (c) setOpenCard({ column: column ?? openCard.column, cardId: c.id });
            else setOpenCard(null);
            board.reload();
          }}
        />
      )}
    </div>
  );
}

function ColumnView({
  board,
  column,
  drag,
  dropAt,
  onDragStart,
  onDragEnd,
  onHover,
  onDrop,
  onOpen,
  onChanged,
}: {
  board: string;
  column: Column;
  drag: Drag | null;
  dropAt: number | null;
  onDragStart: (cardId: string, index: number) => void;
  onDragEnd: () => void;
  onHover: (before: number) => void;
  onDrop: (before: number) => void;
  onOpen: (cardId: string) => void;
  onChanged: () => void;
}) {
  const cards = column.cards ?? [];
  const [text, setText] = useState('');
  const { busy, run } = useAction();
  const listRef = useRef<HTMLDivElement>(null);

  // Where in the list the pointer is: before the first card whose middle is below it.
  const beforeIndex = (clientY: number): number => {
    const els = Array.from(listRef.current?.querySelectorAll<HTMLElement>('[data-card-index]') ?? []);
    for (const el of els) {
      const r = el.getBoundingClientRect();
      if (clientY < r.top + r.height / 2) return Number(el.dataset.cardIndex);
    }
    return -1;
  };

  const add = async (e: React.FormEvent) => {
    e.preventDefault();
    const t = text.trim();
    if (!t) return;
    const c = await run(() => KanbanService.AddCard(board, column.id, t));
    if (c) {
      setText('');
      onChanged();
    }
  };

  return (
    <div
      className={`column ${drag ? 'dragging' : ''} ${dropAt !== null ? 'drop-target' : ''}`}
      data-testid="column"
      data-column={column.id}
      style={column.color ? { borderTopColor: column.color } : undefined}
      onDragOver={(e) => {
        if (!drag && !e.dataTransfer.types.includes(DRAG_TYPE)) return;
        e.preventDefault();
        e.dataTransfer.dropEffect = 'move';
        const before = beforeIndex(e.clientY);
        if (before !== dropAt) onHover(before);
      }}
      onDrop={(e) => {
        e.preventDefault();
        onDrop(beforeIndex(e.clientY));
      }}
    >
      <div className="column-head">
        <span className="column-title">{column.title || column.id}</span>
        <span className="muted small">{cards.length}</span>
      </div>
      <div className="card-list" ref={listRef}>
        {cards.map((c, i) => (
          <div key={c.id}>
            {dropAt === i && <div className="drop-line" />}
            <CardView
              card={c}
              index={i}
              dragging={drag?.cardId === c.id && drag.column === column.id}
              onDragStart={() => onDragStart(c.id, i)}
              onDragEnd={onDragEnd}
              onOpen={() => onOpen(c.id)}
            />
          </div>
        ))}
        {dropAt === -1 && <div className="drop-line" />}
        {cards.length === 0 && !drag && <div className="muted small column-empty">No cards. Add one below or drag one here.</div>}
      </div>
      <form className="add-card" onSubmit={add}>
        <input
          className="input input-small"
          placeholder="Add a card"
          value={text}
          onChange={(e) => setText(e.target.value)}
          data-testid="card-new"
        />
        <button className="btn btn-small" disabled={busy || !text.trim()} data-testid="card-add">
          Add
        </button>
      </form>
    </div>
  );
}

function CardView({
  card,
  index,
  dragging,
  onDragStart,
  onDragEnd,
  onOpen,
}: {
  card: Card;
  index: number;
  dragging: boolean;
  onDragStart: () => void;
  onDragEnd: () => void;
  onOpen: () => void;
}) {
  return (
    <div
      className={`kcard ${dragging ? 'is-dragging' : ''} ${card.done ? 'is-done' : ''}`}
      draggable
      data-card-index={index}
      data-testid="card"
      data-card-id={card.id}
      onDragStart={(e) => {
        e.dataTransfer.setData(DRAG_TYPE, card.id);
        e.dataTransfer.setData('text/plain', card.text);
        e.dataTransfer.effectAllowed = 'move';
        onDragStart();
      }}
      onDragEnd={onDragEnd}
      onClick={onOpen}
      role="button"
      tabIndex={0}
      onKeyDown={(e) => (e.key === 'Enter' || e.key === ' ') && (e.preventDefault(), onOpen())}
    >
      <div className="kcard-text" data-testid="card-text">
        {card.text}
      </div>
      {card.description && <div className="kcard-desc muted small">{card.description.split('\n')[0]}</div>}
      <div className="kcard-foot">
        {(card.topics ?? []).map((t) => (
          <span key={t} className="tag">
            #{t}
          </span>
        ))}
        {(card.subtasks ?? []).length > 0 && (
          <span className="muted small">
            ☑ {(card.subtasks ?? []).filter((s) => s.done).length}/{(card.subtasks ?? []).length}
          </span>
        )}
        {card.loop && <LoopBadge id={card.loop} />}
      </div>
    </div>
  );
}

/** The linked loop's live status: a dot that follows loop:<id>:status, and a link to the loop. */
function LoopBadge({ id, withTitle }: { id: string; withTitle?: boolean }) {
  const [meta, setMeta] = useState<LoopMeta | null>(null);
  const [missing, setMissing] = useState(false);
  const [live, setLive] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    LoopService.Get(id).then(
      (m) => alive && setMeta(m),
      () => alive && setMissing(true),
    );
    return () => {
      alive = false;
    };
  }, [id]);
  useEvent(topics.loopStatus(id), (s: { status: string }) => setLive(s?.status ?? null));
  const status = missing ? 'stopped' : live ?? meta?.status ?? 'stopped';
  return (
    <Link
      to={`/loops/${encodeURIComponent(id)}`}
      className="loop-badge"
      onClick={(e) => e.stopPropagation()}
      draggable={false}
      data-testid="card-loop"
      data-status={missing ? 'missing' : status}
      title={missing ? `loop ${id} no longer exists` : `${meta?.title ?? id}: ${status}`}
    >
      <span className={`status-dot status-${status}`} aria-hidden />
      {withTitle && !missing && <span className="loop-badge-title" data-testid="card-loop-title">{meta?.title ?? '…'}</span>}
      <span className="loop-badge-text">{missing ? 'loop gone' : status}</span>
    </Link>
  );
}

function CardDetails({
  board,
  column,
  columns,
  card,
  onClose,
  onChanged,
}: {
  board: string;
  column: string;
  columns: Column[];
  card: Card;
  onClose: () => void;
  onChanged: (card: Card | null, column?: string) => void;
}) {
  const [text, setText] = useState(card.text);
  const [desc, setDesc] = useState(card.description ?? '');
  const [linking, setLinking] = useState(false);
  const { busy, run } = useAction();
  const toasts = useToasts();
  const nav = useNavigate();
  useEffect(() => {
    setText(card.text);
    setDesc(card.description ?? '');
  }, [card.id, card.text, card.description]);
  const dirty = text.trim() !== card.text || desc.trimEnd() !== (card.description ?? '').trimEnd();

  const save = async () => {
    const c = await run(() => KanbanService.UpdateCard(board, column, card.id, { ...card, text: text.trim(), description: desc }));
    if (c) onChanged(c);
  };
  const remove = async () => {
    const ok = await run(async () => {
      await KanbanService.DeleteCard(board, column, card.id);
      return true;
    });
    if (ok) onChanged(null);
  };
  const moveTo = async (to: string) => {
    if (to === column) return;
    const ok = await run(async () => {
      await KanbanService.MoveCard(board, column, card.id, to, -1);
      return true;
    });
    if (ok) onChanged(card, to);
  };
  // Create loop = LoopService.Create + Send (title and description) + LinkLoop, in that order,
  // so the card points at a loop that already has its task.
  const createLoop = async () => {
    let saved = card;
    if (dirty) {
      const c = await run(() => KanbanService.UpdateCard(board, column, card.id, { ...card, text: text.trim(), description: desc }));
      if (!c) return;
      saved = c;
    }
    const loop = await run(() => LoopService.Create({ title: saved.text }));
    if (!loop) return;
    const sent = await run(() => LoopService.Send(loop.id, firstMessage(saved)));
    const linked = await run(() => KanbanService.LinkLoop(board, column, saved.id, loop.id));
    if (linked) {
      toasts.info(sent ? `Loop “${loop.title}” started with this card's task.` : `Loop created and linked; sending the task failed.`);
      onChanged(linked);
    }
  };
  const linkLoop = async (loopId: string) => {
    const c = await run(() => KanbanService.LinkLoop(board, column, card.id, loopId));
    if (c) {
      setLinking(false);
      onChanged(c);
    }
  };

  return (
    <Modal title="Card" onClose={onClose}>
      <div className="card-details" data-testid="card-details">
        <label className="field">
          <span className="muted small">Title</span>
          <input className="input" value={text} onChange={(e) => setText(e.target.value)} data-testid="card-edit-text" />
        </label>
        <label className="field">
          <span className="muted small">Description</span>
          <textarea
            className="input"
            rows={5}
            value={desc}
            onChange={(e) => setDesc(e.target.value)}
            placeholder="Details, acceptance criteria… (sent to the loop with the title)"
            data-testid="card-edit-desc"
          />
        </label>
        <div className="row">
          <label className="muted small">
            Column{' '}
            <select className="input input-small" value={column} onChange={(e) => moveTo(e.target.value)} disabled={busy} data-testid="card-move">
              {columns.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.title || c.id}
                </option>
              ))}
            </select>
          </label>
          <span className="grow" />
          <ConfirmButton label="Delete" question="Delete this card?" onConfirm={remove} disabled={busy} testid="card-delete" />
          <button className="btn btn-primary btn-small" disabled={busy || !dirty || !text.trim()} onClick={save} data-testid="card-save">
            Save
          </button>
        </div>
        <div className="card-loop-box">
          <h3>Loop</h3>
          {card.loop ? (
            <div className="row" data-testid="card-linked-loop">
              <LoopBadge id={card.loop} withTitle />
              <span className="grow" />
              <button className="btn btn-small btn-primary" onClick={() => nav(`/loops/${encodeURIComponent(card.loop)}`)} data-testid="card-open-loop">
                Open loop
              </button>
              <button className="btn btn-small" disabled={busy} onClick={() => setLinking((l) => !l)} data-testid="card-link-loop">
                Link another…
              </button>
            </div>
          ) : (
            <>
              <p className="muted small">No loop linked. Start one with this card as its task, or link an existing one.</p>
              <div className="row">
                <button className="btn btn-small btn-primary" disabled={busy || !text.trim()} onClick={createLoop} data-testid="card-create-loop">
                  {busy ? 'Working…' : 'Create loop'}
                </button>
                <button className="btn btn-small" disabled={busy} onClick={() => setLinking((l) => !l)} data-testid="card-link-loop">
                  Link loop…
                </button>
              </div>
            </>
          )}
          {linking && <LoopPicker current={card.loop} onPick={linkLoop} />}
        </div>
      </div>
    </Modal>
  );
}

function LoopPicker({ current, onPick }: { current: string; onPick: (id: string) => void }) {
  const loops = useLoad<LoopMeta[]>(() => LoopService.List(), []);
  const [q, setQ] = useState('');
  const all = (loops.data ?? []).filter((l) => !l.archived && l.id !== current);
  const shown = all.filter((l) => !q.trim() || l.title.toLowerCase().includes(q.trim().toLowerCase()));
  return (
    <div className="loop-picker" data-testid="loop-picker">
      {loops.loading && !loops.data && <Spinner />}
      <InlineError text={loops.error} onRetry={() => loops.reload()} />
      {loops.data && all.length === 0 && <p className="muted small">No other loops. Use “Create loop” instead.</p>}
      {all.length > 5 && <input className="input input-small" placeholder="Filter loops" value={q} onChange={(e) => setQ(e.target.value)} />}
      <ul>
        {shown.map((l) => (
          <li key={l.id}>
            <button className="link-btn" onClick={() => onPick(l.id)}>
              <span className={`status-dot status-${l.status}`} aria-hidden /> {l.title}
            </button>{' '}
            <span className="muted small">{l.status}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}

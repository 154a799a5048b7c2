// Card moves on a board: the index the backend expects and the same move applied locally
// (optimistic update while the commit is made).
import type { Board, Card } from '../api/more';

/**
 * The backend inserts after removing the card from its column, so dropping "before card
 * beforeIdx" in the same column below the card's old place means one less.
 * beforeIdx -1 = the end of the column; returns -1 for "end".
 */
export function targetIndex(sameColumn: boolean, fromIdx: number, beforeIdx: number): number {
  if (beforeIdx < 0) return -1;
  if (sameColumn && fromIdx < beforeIdx) return beforeIdx - 1;
  return beforeIdx;
}

/** True when the drop leaves the card where it is. */
export function isNoop(sameColumn: boolean, fromIdx: number, beforeIdx: number, columnLength: number): boolean {
  if (!sameColumn) return false;
  if (beforeIdx < 0) return fromIdx === columnLength - 1;
  return beforeIdx === fromIdx || beforeIdx === fromIdx + 1;
}

/** Returns a new board with the card moved (index as targetIndex returns it). */
export function applyMove(board: Board, fromCol: string, cardId: string, toCol: string, index: number): Board {
  const cols = (board.columns ?? []).map((c) => ({ ...c, cards: [...(c.cards ?? [])] }));
  const from = cols.find((c) => c.id === fromCol);
  const to = cols.find((c) => c.id === toCol);
  if (!from || !to) return board;
  const i = from.cards.findIndex((c) => c.id === cardId);
  if (i < 0) return board;
  const [card] = from.cards.splice(i, 1) as Card[];
  const at = index < 0 || index > to.cards.length ? to.cards.length : index;
  to.cards.splice(at, 0, card);
  return { ...board, columns: cols };
}

/** The first message a loop created from a card gets: its title, then its description. */
export function firstMessage(card: Pick<Card, 'text' | 'description'>): string {
  const desc = (card.description ?? '').trim();
  return desc ? `${card.text}\n\n${desc}` : card.text;
}

/** Board names the backend accepts (kanban.nameRe). */
export function boardNameError(name: string): string | undefined {
  if (!name.trim()) return 'Enter a board name.';
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name) || name.includes('..'))
    return 'Use letters, digits, "_", "." and "-" (start with a letter or digit).';
  return undefined;
}

// The Focus card a loop is linked to, so the loop page can link back to it.
import { useEffect, useState } from 'react';
import { KanbanService, type Board } from '../api/more';

export interface LinkedCard {
  board: string;
  column: string;
  cardId: string;
  text: string;
}

/** The first card on any board whose loop is loopId, or null. */
export function findLinkedCard(boards: Board[], loopId: string): LinkedCard | null {
  for (const b of boards) {
    for (const col of b.columns ?? []) {
      for (const c of col.cards ?? []) {
        if (c.loop === loopId) return { board: b.name, column: col.id, cardId: c.id, text: c.text };
      }
    }
  }
  return null;
}

/**
 * Looks the loop's card up once per loop. Boards are few and small (markdown files); a
 * failure (no notes repository yet) just means no link.
 */
export function useLinkedCard(loopId: string): LinkedCard | null {
  const [card, setCard] = useState<LinkedCard | null>(null);
  useEffect(() => {
    let alive = true;
    setCard(null);
    (async () => {
      const names = (await KanbanService.Boards()) ?? [];
      const boards = await Promise.all(names.map((n) => KanbanService.Board(n).then((b) => ({ ...b, name: b.name || n }))));
      if (alive) setCard(findLinkedCard(boards, loopId));
    })().catch(() => {});
    return () => {
      alive = false;
    };
  }, [loopId]);
  return card;
}

import { describe, expect, it } from 'vitest';
import type { Board, Card } from '../api/more';
import { applyMove, boardNameError, firstMessage, isNoop, targetIndex } from './move';

const card = (id: string): Card => ({ id, text: id, done: false, meta: [], loop: '', subtasks: [], description: '', topics: [] });
const board = (): Board => ({
  name: 'b',
  columns: [
    { id: 'todo', title: 'To do', cards: [card('a'), card('b'), card('c')] },
    { id: 'done', title: 'Done', cards: [card('d')] },
  ],
});
const ids = (b: Board, col: string) => (b.columns ?? []).find((c) => c.id === col)!.cards!.map((c) => c.id);

describe('targetIndex', () => {
  it('accounts for removal within the same column', () => {
    expect(targetIndex(true, 0, 2)).toBe(1);
    expect(targetIndex(true, 2, 0)).toBe(0);
    expect(targetIndex(false, 0, 1)).toBe(1);
    expect(targetIndex(false, 0, -1)).toBe(-1);
  });
  it('detects drops that change nothing', () => {
    expect(isNoop(true, 1, 1, 3)).toBe(true);
    expect(isNoop(true, 1, 2, 3)).toBe(true);
    expect(isNoop(true, 2, -1, 3)).toBe(true);
    expect(isNoop(true, 0, 2, 3)).toBe(false);
    expect(isNoop(false, 0, 0, 0)).toBe(false);
  });
});

describe('applyMove', () => {
  it('moves across columns and within one, like the backend', () => {
    const b1 = applyMove(board(), 'todo', 'a', 'done', -1);
    expect(ids(b1, 'todo')).toEqual(['b', 'c']);
    expect(ids(b1, 'done')).toEqual(['d', 'a']);
    const b2 = applyMove(board(), 'todo', 'a', 'todo', targetIndex(true, 0, 2));
    expect(ids(b2, 'todo')).toEqual(['b', 'a', 'c']);
  });
  it('leaves the board alone for unknown ids', () => {
    const b = board();
    expect(applyMove(b, 'todo', 'zz', 'done', 0)).toBe(b);
    expect(applyMove(b, 'nope', 'a', 'done', 0)).toBe(b);
  });
});

describe('helpers', () => {
  it('builds the first message and checks board names', () => {
    expect(firstMessage({ text: 'Fix login', description: '' })).toBe('Fix login');
    expect(firstMessage({ text: 'Fix login', description: 'steps\n' })).toBe('Fix login\n\nsteps');
    expect(boardNameError('sprint-1')).toBeUndefined();
    expect(boardNameError('')).toBeTruthy();
    expect(boardNameError('a b')).toBeTruthy();
    expect(boardNameError('-x')).toBeTruthy();
  });
});

import { describe, expect, it } from 'vitest';
import { diffRows } from './PendingCard';

describe('diffRows', () => {
  it('keeps common lines as context and shows the changed middle', () => {
    const rows = diffRows('a\nb\nc\nd', 'a\nB\nB2\nd');
    expect(rows.map((r) => r.sign + r.text)).toEqual([' a', '-b', '-c', '+B', '+B2', ' d']);
  });
  it('shows a new file as added lines only', () => {
    expect(diffRows('', 'x\ny').map((r) => r.sign + r.text)).toEqual(['+x', '+y']);
  });
  it('shows nothing changed for equal text', () => {
    expect(diffRows('same', 'same').every((r) => r.sign === ' ')).toBe(true);
  });
});

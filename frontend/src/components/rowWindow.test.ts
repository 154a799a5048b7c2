import { describe, expect, it } from 'vitest';
import { ALL_ROWS, rowRange } from './rowWindow';

describe('rowRange', () => {
  it('renders every row of a short list', () => {
    expect(rowRange(ALL_ROWS, 5000, 800, 46)).toEqual({ start: 0, end: ALL_ROWS, padTop: 0, padBottom: 0 });
  });
  it('renders the rows in view of a long list, spacers keeping the full height', () => {
    const r = rowRange(500, 0, 800, 40);
    expect(r.start).toBe(0);
    expect(r.end).toBeGreaterThanOrEqual(20); // 800 px of 40 px rows on screen
    expect(r.end).toBeLessThan(60);
    expect(r.padTop + (r.end - r.start) * 40 + r.padBottom).toBe(500 * 40);
  });
  it('follows the scroll position and stops at the last row', () => {
    const mid = rowRange(500, 10_000, 800, 40); // row 250 at the top
    expect(mid.start).toBeLessThanOrEqual(250);
    expect(mid.end).toBeGreaterThanOrEqual(270);
    const last = rowRange(500, 500 * 40 - 800, 800, 40);
    expect(last.end).toBe(500);
    expect(last.padBottom).toBe(0);
    expect(last.padTop + (last.end - last.start) * 40).toBe(500 * 40);
  });
  it('never renders past the list for a scroll beyond it (the list shrank)', () => {
    const r = rowRange(150, 1e6, 800, 40);
    expect(r.start).toBeLessThanOrEqual(r.end);
    expect(r.end).toBe(150);
  });
});

import { describe, expect, it } from 'vitest';
import { applyPick, caretOnEdgeLine, contextMeter, filterCommands, historyStep, splitDataUrl, triggerAt } from './composerText';

describe('triggerAt', () => {
  it('finds a slash command only as the first word', () => {
    expect(triggerAt('/rev', 4)).toEqual({ kind: 'slash', query: 'rev', start: 0, end: 4 });
    expect(triggerAt('/', 1)).toEqual({ kind: 'slash', query: '', start: 0, end: 1 });
    expect(triggerAt('see /rev', 8)).toBeNull();
    expect(triggerAt('/review now', 11)).toBeNull();
    expect(triggerAt('/usr/bin', 8)).toBeNull();
  });
  it('finds an @path after a space or at the start', () => {
    expect(triggerAt('look at @src/ma', 15)).toEqual({ kind: 'at', query: 'src/ma', start: 8, end: 15 });
    expect(triggerAt('@', 1)).toEqual({ kind: 'at', query: '', start: 0, end: 1 });
    expect(triggerAt('mail me@example', 15)).toBeNull();
    expect(triggerAt('@a b', 4)).toBeNull();
  });
});

describe('filterCommands', () => {
  it('puts prefix matches first and caps the list', () => {
    expect(filterCommands(['compact', 'review', 'pr-comments', 'security-review'], 'rev')).toEqual(['review', 'security-review']);
    expect(filterCommands(['a', 'b', 'c'], '', 2)).toEqual(['a', 'b']);
    expect(filterCommands(['Compact'], 'comp')).toEqual(['Compact']);
  });
});

describe('applyPick', () => {
  it('replaces the trigger and the rest of its word', () => {
    expect(applyPick('/rev', { kind: 'slash', query: 'rev', start: 0, end: 4 }, 'review')).toEqual({ text: '/review ', caret: 8 });
    expect(applyPick('see @sr now', { kind: 'at', query: 'sr', start: 4, end: 7 }, 'src/main.go')).toEqual({ text: 'see @src/main.go now', caret: 17 });
    // A folder keeps the menu open for its content: no space after it.
    expect(applyPick('@s', { kind: 'at', query: 's', start: 0, end: 2 }, 'src/')).toEqual({ text: '@src/', caret: 5 });
  });
});

describe('history', () => {
  it('steps through entries and back to the draft, stopping at the ends', () => {
    const h = ['one', 'two'];
    expect(historyStep(h, 2, -1)).toBe(1);
    expect(historyStep(h, 1, -1)).toBe(0);
    expect(historyStep(h, 0, -1)).toBeNull();
    expect(historyStep(h, 1, 1)).toBe(2);
    expect(historyStep(h, 2, 1)).toBeNull();
    expect(historyStep([], 0, -1)).toBeNull();
  });
  it('recalls only from the edge lines', () => {
    expect(caretOnEdgeLine('a\nb', 0, -1)).toBe(true);
    expect(caretOnEdgeLine('a\nb', 3, -1)).toBe(false);
    expect(caretOnEdgeLine('a\nb', 3, 1)).toBe(true);
    expect(caretOnEdgeLine('a\nb', 0, 1)).toBe(false);
  });
});

describe('contextMeter', () => {
  it('reports the share used with a level', () => {
    expect(contextMeter(50_000, 200_000)).toEqual({ percent: 25, shown: '25%', level: 'ok', label: '50k / 200k tokens (25%)' });
    expect(contextMeter(30, 200_000)).toMatchObject({ percent: 0, shown: '<1%', label: '30 / 200k tokens (<1%)' });
    expect(contextMeter(150_000, 200_000).level).toBe('warn');
    expect(contextMeter(990_000, 1_000_000)).toEqual({ percent: 99, shown: '99%', level: 'full', label: '990k / 1M tokens (99%)' });
    expect(contextMeter(500, 0).percent).toBe(0);
    expect(contextMeter(300_000, 200_000).percent).toBe(100);
  });
});

describe('splitDataUrl', () => {
  it('splits base64 data URLs only', () => {
    expect(splitDataUrl('data:image/png;base64,iVBOR')).toEqual({ mediaType: 'image/png', data: 'iVBOR' });
    expect(splitDataUrl('data:text/plain,hi')).toBeNull();
    expect(splitDataUrl('https://x/y.png')).toBeNull();
  });
});

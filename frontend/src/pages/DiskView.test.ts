import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { DiskView, diskSize, pruneMessage, type DiskImage, type DiskInfo, type DiskViewProps } from './DiskView';

const noop = () => {};
const render = (p: Partial<DiskViewProps>) =>
  renderToStaticMarkup(createElement(DiskView, { loading: false, cleaning: false, onClean: noop, onReload: noop, ...p }));

const img = (over: Partial<DiskImage>): DiskImage => ({
  ref: 'localhost/loopat-sandbox-aaaa:latest',
  id: 'a'.repeat(64),
  size: 1_950_000_000,
  uniqueSize: 100,
  created: 1,
  loops: [],
  others: 0,
  current: false,
  shared: false,
  removable: false,
  ...over,
});

describe('DiskView', () => {
  it('shows an empty state when nothing is on disk', () => {
    const html = render({ info: { images: [], loops: null, caches: null, reclaimable: 0 } });
    expect(html).toContain('data-testid="disk-empty"');
    expect(html).toMatch(/data-testid="disk-clean"[^>]*disabled|disabled=""[^>]*data-testid="disk-clean"/);
  });

  it('lists images with their state and enables clean-up for removable ones', () => {
    const info: DiskInfo = {
      images: [
        img({ ref: 'localhost/loopat-sandbox-new:latest', id: '1'.repeat(64), current: true }),
        img({ ref: 'localhost/loopat-sandbox-mid:latest', id: '2'.repeat(64), loops: ['loop-1234567890'] }),
        img({ ref: 'localhost/loopat-sandbox-old:latest', id: '3'.repeat(64), removable: true }),
      ],
      loops: [{ id: 'loop-1234567890', workdir: 12_000_000, home: 3_000, partial: false }],
      caches: [{ loop: 'loop-1234567890', path: '.cache/mise', size: 250_000_000 }],
      reclaimable: 2_000_000_000,
    };
    const html = render({ info, titles: { 'loop-1234567890': 'Fix the parser' } });
    expect(html).not.toContain('disk-empty');
    expect(html).toContain('current');
    expect(html).toContain('superseded, in use by Fix the parser');
    expect(html).toContain('superseded, unused');
    expect(html.match(/disk-image-removable/g)?.length).toBe(1);
    expect(html).toContain('Clean up (1 old image, up to 2.0 GB)');
    expect(html).toContain('12.0 MB');
    expect(html).toContain('~/.cache/mise 250.0 MB');
    expect(html).not.toMatch(/disabled=""[^>]*data-testid="disk-clean"/);
  });

  it('shows progress while cleaning and the result after', () => {
    const info: DiskInfo = { images: [img({ removable: true })], loops: [], caches: [], reclaimable: 1 };
    const busy = render({ info, cleaning: true });
    expect(busy).toContain('data-testid="disk-progress"');
    expect(busy).toContain('Cleaning up…');
    const done = render({
      info: { ...info, images: [] },
      result: { removed: ['a', 'b'], untagged: [], failed: ['c: image in use'], freed: 3_900_000_000 },
    });
    expect(done).toContain('Freed 3.9 GB — removed 2 old images');
    expect(done).toContain('Kept c: image in use');
    expect(done).not.toContain('disk-progress');
  });

  it('still shows loop folders when the engine is down', () => {
    const html = render({
      info: { images: [], loops: [{ id: 'x', workdir: 5, home: 0, partial: true }], caches: [], reclaimable: 0, imagesError: 'podman engine: starting' },
    });
    expect(html).toContain('Images unavailable: podman engine: starting');
    expect(html).toContain('5 B+');
  });
});

describe('sizes and messages', () => {
  it('formats decimal sizes', () => {
    expect(diskSize(999)).toBe('999 B');
    expect(diskSize(3_900_000_000)).toBe('3.9 GB');
    expect(diskSize(-1)).toBe('?');
  });
  it('says when there was nothing to do', () => {
    expect(pruneMessage({ removed: null, untagged: [], failed: null, freed: 0 })).toBe('Nothing to clean up.');
  });
});

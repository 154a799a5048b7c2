// A window over a long list of rows of one height (the sidebar's loops): only the rows in
// view, plus a margin, are rendered; spacers above and below keep the scroll height, so
// the scrollbar and scrolling behave as with every row there. Lists up to ALL_ROWS long
// render every row (nothing to gain, and find-in-page and tab order see them all).
import { useCallback, useEffect, useRef, useState } from 'react';

export const ALL_ROWS = 100;
const MARGIN_ROWS = 12;
const GUESS_PX = 46; // a row's height until the first one is measured

export interface RowRange {
  start: number;
  end: number;
  padTop: number;
  padBottom: number;
}

/** The rows of count to render for a scroller at scrollTop with viewport px of height. */
export function rowRange(count: number, scrollTop: number, viewport: number, rowPx: number): RowRange {
  if (count <= ALL_ROWS || rowPx <= 0) return { start: 0, end: count, padTop: 0, padBottom: 0 };
  const first = Math.floor(Math.max(0, scrollTop) / rowPx);
  const start = Math.max(0, Math.min(count, first - MARGIN_ROWS));
  const end = Math.min(count, first + Math.ceil(Math.max(viewport, rowPx) / rowPx) + MARGIN_ROWS);
  return { start, end, padTop: start * rowPx, padBottom: (count - end) * rowPx };
}

export function useRowWindow(count: number) {
  const [view, setView] = useState({ top: 0, height: 800 });
  const [rowPx, setRowPx] = useState(GUESS_PX);
  const scroller = useRef<HTMLElement | null>(null);
  const frame = useRef(0);
  const cleanup = useRef<() => void>(() => {});
  const scrollerRef = useCallback((el: HTMLElement | null) => {
    cleanup.current();
    scroller.current = el;
    if (!el) return;
    // Read once a frame at most: scroll events come faster than frames.
    const read = () => {
      if (frame.current) return;
      frame.current = requestAnimationFrame(() => {
        frame.current = 0;
        setView((v) => (v.top === el.scrollTop && v.height === el.clientHeight ? v : { top: el.scrollTop, height: el.clientHeight }));
      });
    };
    el.addEventListener('scroll', read, { passive: true });
    const ro = new ResizeObserver(read);
    ro.observe(el);
    read();
    cleanup.current = () => {
      el.removeEventListener('scroll', read);
      ro.disconnect();
      cancelAnimationFrame(frame.current);
      frame.current = 0;
    };
  }, []);
  useEffect(() => () => cleanup.current(), []);
  // The first rendered row gives the real height (theme, font size).
  const measureRef = useCallback((el: HTMLElement | null) => {
    const h = el?.offsetHeight ?? 0;
    if (h > 0) setRowPx((px) => (px === h ? px : h));
  }, []);
  return { scrollerRef, measureRef, ...rowRange(count, view.top, view.height, rowPx) };
}

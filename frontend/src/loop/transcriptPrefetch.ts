// Starts a loop's first transcript page and its meta (LoopService.Get, what the header
// shows) as soon as its route is known, before the loop page's code and its other fetches
// have loaded, so they run beside them instead of after them. Kept apart from Transcript.tsx so the app shell can call it
// without loading the chat's heavy parts (markdown, virtualised list).
import { on } from '../api/client';
import { LoopService, topics, type LoopMeta, type Msg, type TranscriptPage } from '../api/services';
import { stampArrival } from './transcript';

/** Lines in the first page the chat shows: about two screens, so it renders fast. */
export const FIRST_PAGE_LINES = 120;
// A prefetched page not taken within this time is dropped (the user went elsewhere).
const FRESH_MS = 10_000;

export interface Prefetched {
  page: Promise<TranscriptPage>;
  /** The page once it has arrived: the chat renders it in its first render, no hop. */
  value?: TranscriptPage;
  /** Lines that arrived as events since the fetch started (the page may hold them too). */
  arrived: Msg[];
}

let pending: (Prefetched & { loopId: string; at: number; stop: () => void }) | null = null;
let pendingMeta: { loopId: string; at: number; meta: Promise<LoopMeta> } | null = null;

/** Fetches the newest page of loopId's transcript now; idempotent per loop. */
export function prefetchTranscript(loopId: string) {
  if (!loopId || (pending?.loopId === loopId && performance.now() - pending.at < FRESH_MS)) return;
  const meta = LoopService.Get(loopId);
  meta.catch(() => {}); // the loop page reports a failure when it takes the meta
  pendingMeta = { loopId, at: performance.now(), meta };
  pending?.stop();
  const arrived: Msg[] = [];
  // Events from now on are kept so none falls between this fetch and the chat's own subscription.
  const unsubscribe = on(topics.loopMessage(loopId), (m) => arrived.push(stampArrival(m as Msg)));
  const page = LoopService.MessagesPage(loopId, 0, FIRST_PAGE_LINES);
  page.then(
    (v) => (entry.value = v),
    () => {}, // the chat reports a failure when it takes the page
  );
  // Not taken in time (the loop failed to open, the user left): stop listening.
  const expiry = setTimeout(() => {
    if (pending === entry) takePrefetched(loopId);
  }, FRESH_MS);
  const stop = () => {
    clearTimeout(expiry);
    unsubscribe();
  };
  const entry: Prefetched & { loopId: string; at: number; stop: () => void } = { loopId, page, arrived, at: performance.now(), stop };
  pending = entry;
}

/**
 * Hands the prefetched page of loopId to the chat (once), or null. The caller's own event
 * subscription must already be live: this one stops here.
 */
export function takePrefetched(loopId: string): Prefetched | null {
  const p = pending;
  if (!p || p.loopId !== loopId) return null;
  pending = null;
  p.stop();
  return performance.now() - p.at < FRESH_MS ? { page: p.page, value: p.value, arrived: p.arrived } : null;
}

/**
 * The prefetched page of loopId if it has already arrived, without taking it (the chat
 * takes it once its own event subscription is live), with the lines that arrived so far.
 */
export function peekPrefetched(loopId: string): { value: TranscriptPage; arrived: number } | null {
  const p = pending;
  if (!p || p.loopId !== loopId || !p.value || performance.now() - p.at >= FRESH_MS) return null;
  return { value: p.value, arrived: p.arrived.length };
}

/** Hands the prefetched meta of loopId to the loop page (once), or null: fetch it then. */
export function takePrefetchedMeta(loopId: string): Promise<LoopMeta> | null {
  const p = pendingMeta;
  if (!p || p.loopId !== loopId) return null;
  pendingMeta = null;
  return performance.now() - p.at < FRESH_MS ? p.meta : null;
}

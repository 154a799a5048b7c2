// The loop list, fetched once for every view that shows it at the same time (the sidebar
// and Home both need it at start): a call joins the request in flight. Any loops:changed
// or reconnect drops the shared request first, so a reload after a change always asks
// the server again and never gets an answer from before the change.
import { on, RECONNECTED } from '../api/client';
import { LoopService, topics, type LoopMeta } from '../api/services';

let inflight: Promise<LoopMeta[]> | null = null;
let watching = false;

export function listLoops(): Promise<LoopMeta[]> {
  if (!watching) {
    watching = true;
    // Subscribed before any view's reload handler, so it runs first on the same event.
    const drop = () => (inflight = null);
    on(topics.loopsChanged, drop);
    on(RECONNECTED, drop);
  }
  if (!inflight) {
    const p = LoopService.List();
    inflight = p;
    const done = () => {
      if (inflight === p) inflight = null;
    };
    p.then(done, done);
  }
  return inflight;
}

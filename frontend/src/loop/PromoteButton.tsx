import '../styles-more.css';
import { useState } from 'react';
import { ContextService, type RepoPromote } from '../api/more';
import { useAction } from '../ui';

/**
 * Promotes the loop's context (knowledge, notes, personal) back to the workspace: notes and
 * personal are merged and pushed, knowledge becomes a proposal to review on the Context page.
 * A conflict lists its files; nothing is thrown away.
 */
export function PromoteButton({ loopId }: { loopId: string }) {
  const { run, busy } = useAction();
  const [result, setResult] = useState<RepoPromote[] | null>(null);
  return (
    <span className="promote">
      <button
        className="btn btn-small"
        disabled={busy}
        title="Commit this loop's context changes, merge the latest and push (knowledge becomes a proposal)"
        data-testid="loop-promote"
        onClick={() =>
          run(async () => {
            const res = await ContextService.Promote(loopId);
            setResult(res.repos ?? []);
          })
        }
      >
        {busy ? 'Promoting…' : 'Promote context'}
      </button>
      {result && (
        <span className="promote-result" role="status" data-testid="loop-promote-result">
          {result.length === 0 && <span className="muted">nothing to promote</span>}
          {result.map((r) => (
            <span key={r.repo} className={`promote-repo promote-${r.status}`} title={(r.files ?? []).join('\n') || r.error}>
              {r.repo}: {r.status}
              {r.status === 'conflict' && r.files && r.files.length > 0 && ` (${r.files.join(', ')})`}
              {r.error && ` — ${r.error}`}
            </span>
          ))}
          <button className="icon-btn promote-result-close" onClick={() => setResult(null)} aria-label="Dismiss">
            ×
          </button>
        </span>
      )}
    </span>
  );
}

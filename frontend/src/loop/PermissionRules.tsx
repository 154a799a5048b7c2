// The loop's "allow always" rules (LoopService.PermissionRules): listed and removable.
import './pending.css';
import { useState } from 'react';
import { call } from '../api/rpc';
import { useAction, useEvent, useLoad } from '../ui';

export function PermissionRules({ loopId }: { loopId: string }) {
  const [open, setOpen] = useState(false);
  const rules = useLoad(() => call('LoopService', 'PermissionRules', loopId).then((r) => r ?? []), [loopId]);
  useEvent('loops:changed', (e: { id?: string }) => {
    if (!e?.id || e.id === loopId) rules.reload();
  });
  const act = useAction();
  const list = rules.data ?? [];
  return (
    <span className="rules-wrap">
      <button
        className="btn btn-small"
        onClick={() => setOpen(!open)}
        title="Requests these rules cover run without asking"
        data-testid="permission-rules-toggle"
      >
        Rules ({list.length})
      </button>
      {open && (
        <div className="rules-pop" data-testid="permission-rules">
          <div className="small muted">Allowed without asking in this loop</div>
          {list.length === 0 && <div className="small muted">No rules yet: “Allow always” on a request adds one.</div>}
          {list.map((r) => (
            <div key={r} className="rules-row">
              <code>{r}</code>
              <button
                className="btn btn-small btn-danger"
                disabled={act.busy}
                onClick={() => act.run(() => call('LoopService', 'RemovePermissionRule', loopId, r)).then(() => rules.reload())}
                data-testid="permission-rule-remove"
              >
                Remove
              </button>
            </div>
          ))}
        </div>
      )}
    </span>
  );
}

// Settings → Providers: the Anthropic-compatible model APIs loops can use. Edits go to
// config.toml through ProviderService (only the provider's own table changes, the user's
// comments stay); a key typed here goes to the vault (the OS keychain) via VaultService,
// config.toml only names the secret holding it.
import { useState } from 'react';
import { call } from '../api/rpc';
import { ProviderService, VaultService, type Provider, type ProviderTest } from '../api/services';
import { ConfirmButton, describeError, InlineError, Spinner, useLoad } from '../ui';

type Draft = { original: string; name: string; baseURL: string; models: string; keyRef: string; key: string };

const emptyDraft: Draft = { original: '', name: '', baseURL: 'https://', models: '', keyRef: '', key: '' };

/** The models box takes one id per line or comma separated. */
export function parseModels(text: string): string[] {
  return Array.from(new Set(text.split(/[\n,]/).map((m) => m.trim()).filter(Boolean)));
}

export function Providers() {
  const list = useLoad<Provider[]>(() => ProviderService.List(), []);
  const [results, setResults] = useState<Record<string, ProviderTest | 'testing'>>({});
  const [draft, setDraft] = useState<Draft | null>(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  // run reports a failure next to the form/list (not only as a toast): what went wrong
  // and that nothing was saved stay on screen while the user fixes it.
  const run = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError('');
    try {
      await fn();
      return true;
    } catch (e) {
      const d = describeError(e);
      setError(d.hint ? `${d.text} — ${d.hint}` : d.text);
      return false;
    } finally {
      setBusy(false);
    }
  };

  const runAndReload = async (fn: () => Promise<unknown>) => {
    if (await run(fn)) list.reload();
  };

  const test = async (name: string) => {
    setResults((r) => ({ ...r, [name]: 'testing' }));
    try {
      const res = await ProviderService.Test(name);
      setResults((r) => ({ ...r, [name]: res }));
    } catch (e) {
      setResults((r) => {
        const { [name]: _, ...rest } = r;
        return rest;
      });
      setError(describeError(e).text);
    }
  };

  const save = async (d: Draft) => {
    const keyRef = d.keyRef.trim();
    const ok = await run(async () => {
      // The key first: a provider saved pointing at a secret that failed to store would
      // look configured but fail every loop.
      if (d.key) await VaultService.SetEnv('default', keyRef, d.key);
      await call('ProviderService', 'Save', d.original, {
        name: d.name.trim(),
        baseURL: d.baseURL.trim(),
        models: parseModels(d.models),
        keyRef,
      });
    });
    if (ok) {
      setDraft(null);
      setResults((r) => {
        const { [d.original]: _, [d.name]: __, ...rest } = r;
        return rest;
      });
      list.reload();
    }
  };

  const edit = (p: Provider) =>
    setDraft({ original: p.name, name: p.name, baseURL: p.baseURL, models: (p.models ?? []).join('\n'), keyRef: p.keyRef, key: '' });

  return (
    <section>
      <div className="row between">
        <h1>Providers</h1>
        {!draft && (
          <button className="btn btn-small" onClick={() => setDraft({ ...emptyDraft })} data-testid="provider-add">
            Add provider
          </button>
        )}
      </div>
      <p className="muted">Anthropic-compatible model APIs the agent can use. Keys live in the vault (the OS keychain), referenced by name.</p>
      <InlineError text={list.error} onRetry={() => list.reload()} />
      {error && (
        <div className="inline-error" data-testid="provider-error">
          {error}
        </div>
      )}
      {draft && <ProviderForm draft={draft} busy={busy} onChange={setDraft} onSave={save} onCancel={() => setDraft(null)} />}
      {list.loading && !list.data && <Spinner />}
      {list.data && list.data.length === 0 && <p className="muted">No providers configured yet.</p>}
      <div className="cards">
        {(list.data ?? []).map((p) => {
          const r = results[p.name];
          return (
            <div className="card" key={p.name} data-testid={`provider-${p.name}`}>
              <div className="row between">
                <h2>
                  {p.name} {p.default && <span className="tag" data-testid={`provider-default-${p.name}`}>default</span>}
                </h2>
                <span className="row">
                  <button className="btn btn-small" disabled={r === 'testing'} onClick={() => test(p.name)} data-testid={`provider-test-${p.name}`}>
                    {r === 'testing' ? 'Testing…' : 'Test connection'}
                  </button>
                  <button className="btn btn-small" disabled={busy} onClick={() => edit(p)} data-testid={`provider-edit-${p.name}`}>
                    Edit
                  </button>
                  {!p.default && (
                    <button
                      className="btn btn-small"
                      disabled={busy}
                      onClick={() => runAndReload(() => call('ProviderService', 'SetDefault', p.name))}
                      data-testid={`provider-make-default-${p.name}`}
                    >
                      Make default
                    </button>
                  )}
                  {!p.default && (
                    <ConfirmButton
                      label="Remove"
                      question={`Remove provider ${p.name} from config.toml? Its key stays in the vault.`}
                      confirmLabel="Remove"
                      disabled={busy}
                      onConfirm={() => runAndReload(() => call('ProviderService', 'Remove', p.name))}
                      testid={`provider-remove-${p.name}`}
                    />
                  )}
                </span>
              </div>
              <dl className="kv">
                <dt>Base URL</dt>
                <dd>
                  <code>{p.baseURL || 'default'}</code>
                </dd>
                <dt>Models</dt>
                <dd>{(p.models ?? []).join(', ') || '—'}</dd>
                <dt>Key</dt>
                <dd>
                  <code>{p.keyRef || '—'}</code>{' '}
                  {p.hasKey ? (
                    <span className="ok-text" data-testid={`provider-key-${p.name}`}>
                      set
                    </span>
                  ) : (
                    <span className="fail-text" data-testid={`provider-key-${p.name}`}>
                      missing
                    </span>
                  )}
                </dd>
              </dl>
              {r && r !== 'testing' && (
                <div className={r.ok ? 'ok-text' : 'inline-error'} data-testid={`provider-result-${p.name}`} data-class={r.class}>
                  {r.ok ? '✓ ' : '✗ '}
                  {!r.ok && r.class && <strong>{r.class}: </strong>}
                  {r.message}
                  {r.hint && <span className="muted"> — {r.hint}</span>}
                </div>
              )}
            </div>
          );
        })}
      </div>
    </section>
  );
}

function ProviderForm({
  draft,
  busy,
  onChange,
  onSave,
  onCancel,
}: {
  draft: Draft;
  busy: boolean;
  onChange: (d: Draft) => void;
  onSave: (d: Draft) => void;
  onCancel: () => void;
}) {
  const set = (k: keyof Draft) => (e: { target: { value: string } }) => onChange({ ...draft, [k]: e.target.value });
  const canSave = draft.name.trim() && draft.baseURL.trim() && draft.keyRef.trim() && !busy;
  return (
    <form
      className="card form"
      data-testid="provider-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (canSave) onSave(draft);
      }}
    >
      <h2>{draft.original ? `Edit ${draft.original}` : 'New provider'}</h2>
        <label>
          Name
          <input className="input" value={draft.name} onChange={set('name')} placeholder="e.g. office-gateway" data-testid="provider-form-name" />
        </label>
        <label>
          Base URL
          <input className="input" value={draft.baseURL} onChange={set('baseURL')} placeholder="https://api.anthropic.com" data-testid="provider-form-url" />
        </label>
        <label>
          Models (one per line)
          <textarea className="input" rows={3} value={draft.models} onChange={set('models')} data-testid="provider-form-models" />
        </label>
        <label>
          Vault secret holding the key
          <input className="input" value={draft.keyRef} onChange={set('keyRef')} placeholder="ANTHROPIC_API_KEY" data-testid="provider-form-keyref" />
        </label>
        <label>
          API key {draft.original ? '(leave empty to keep the stored one)' : '(optional: stored in the keychain)'}
          <input
            className="input"
            type="password"
            autoComplete="off"
            value={draft.key}
            onChange={set('key')}
            data-testid="provider-form-key"
          />
        </label>
      <div className="form-actions">
        <button className="btn btn-primary" type="submit" disabled={!canSave} data-testid="provider-form-save">
          {busy ? 'Saving…' : 'Save'}
        </button>
        <button className="btn" type="button" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
      </div>
    </form>
  );
}

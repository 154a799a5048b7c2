import { useEffect, useState } from 'react';
import { NavLink, useParams } from 'react-router-dom';
import {
  ImageService,
  ProviderService,
  SystemService,
  topics,
  VaultService,
  type ConfigFile,
  type ImageProgress,
  type ImageStatus,
  type Info,
  type Provider,
  type VaultEntry,
  type VaultStatus,
} from '../api/services';
import { ConfirmButton, formatBytes, formatTime, InlineError, ProgressBar, useAction, useEvent, useLoad, useToasts } from '../ui';
import { byteLength, formatMode, getTomlKey, getTomlStringArray, parseMode, savedMessage, setTomlKey, setTomlStringArray } from '../settings/logic';
import { MachinePanel } from './MachinePanel';
import { Providers } from '../settings/Providers';
import { UninstallSection } from './UninstallSection';
import { DiskSection } from './DiskSection';
import type { DiskInfo } from './DiskView';

const SECTIONS = [
  ['general', 'General'],
  ['providers', 'Providers'],
  ['vault', 'Vault'],
  ['sandbox', 'Sandbox'],
  ['machine', 'Machine'],
  ['about', 'About'],
  ['uninstall', 'Uninstall'],
] as const;

export function Settings({ info }: { info?: Info }) {
  const { section = 'general' } = useParams();
  return (
    <div className="page settings" data-testid="settings">
      <nav className="settings-nav">
        {SECTIONS.map(([id, label]) => (
          <NavLink key={id} to={`/settings/${id}`} data-testid={`settings-${id}`}>
            {label}
          </NavLink>
        ))}
      </nav>
      <div className="settings-body">
        {section === 'general' && <General />}
        {section === 'providers' && <Providers />}
        {section === 'vault' && <Vault />}
        {section === 'sandbox' && <Sandbox />}
        {section === 'machine' && (
          <>
            <h1>Machine</h1>
            <MachinePanel />
          </>
        )}
        {section === 'about' && <About info={info} />}
        {section === 'uninstall' && <UninstallSection />}
      </div>
    </div>
  );
}

function General() {
  const cfg = useLoad<ConfigFile>(() => SystemService.Config(), []);
  const [text, setText] = useState('');
  const { busy, run } = useAction();
  const toasts = useToasts();
  useEffect(() => {
    if (cfg.data) setText(cfg.data.text);
  }, [cfg.data?.text]); // eslint-disable-line react-hooks/exhaustive-deps
  const [saved, setSaved] = useState<{ text: string; restart: boolean } | null>(null);
  const save = async () => {
    const res = await run(() => SystemService.SaveConfig(text, cfg.data?.revision ?? ''));
    if (!res) return;
    cfg.set(res.error ? { ...res, text } : res);
    if (!res.error) {
      const msg = savedMessage(res);
      setSaved({ text: msg, restart: (res.restart ?? []).length > 0 });
      toasts.info(msg);
    }
  };
  // Revert drops unsaved edits: back to the file as saved (re-read, the CLI may have changed it).
  const revert = async () => {
    const fresh = await run(() => SystemService.Config());
    if (!fresh) return;
    cfg.set(fresh);
    setText(fresh.text);
    setSaved(null);
  };
  const err = cfg.data?.error;
  const dirty = cfg.data ? text !== cfg.data.text || !!err : false;
  return (
    <section>
      <h1>General</h1>
      <p className="muted">
        Configuration file {cfg.data && <code>{cfg.data.path}</code>}. Changes are checked before they are saved.
      </p>
      <InlineError text={cfg.error} onRetry={() => cfg.reload()} />
      {err && (
        <div className="config-error" data-testid="config-error">
          <strong>
            {err.file}
            {err.line ? `:${err.line}` : ''}
            {err.key ? ` (${err.key})` : ''}
          </strong>
          : {err.message}
        </div>
      )}
      <CommonFields
        text={text}
        onChange={(t) => {
          setText(t);
          setSaved(null);
        }}
      />
      <details className="config-advanced" open={!!err || undefined} data-testid="config-advanced">
        <summary>
          Advanced: edit <code>config.toml</code>{' '}
          <span className="muted small">(every option, with its documentation; the fields above edit the same text)</span>
        </summary>
        <textarea
          className="input code-editor"
          spellCheck={false}
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            setSaved(null);
          }}
          data-testid="config-editor"
          rows={24}
        />
      </details>
      {saved && (
        <p className={saved.restart ? 'warn-text' : 'ok-text small'} data-testid="config-saved">
          {saved.text}
        </p>
      )}
      <div className="row gap config-actions">
        {dirty && !err && (
          <span className="warn-text small" data-testid="config-unsaved">
            Unsaved changes
          </span>
        )}
        <button className="btn btn-primary" disabled={busy || !dirty} onClick={save} data-testid="config-save">
          {busy ? 'Saving…' : 'Save'}
        </button>
        <button className="btn" disabled={busy || !dirty} onClick={revert} data-testid="config-revert">
          Revert
        </button>
        <button className="btn" onClick={() => run(() => SystemService.OpenLogsFolder())}>
          Open logs folder
        </button>
      </div>
    </section>
  );
}

/** Fields for the common options; each edits its line of the TOML text (saved with Save). */
function CommonFields({ text, onChange }: { text: string; onChange: (text: string) => void }) {
  const providers = useLoad<Provider[]>(() => ProviderService.List(), []);
  const theme = getTomlKey(text, 'ui', 'theme');
  const notifications = getTomlKey(text, 'ui', 'notifications');
  const idle = getTomlKey(text, 'sandbox', 'idle_minutes');
  const provider = String(getTomlKey(text, 'agent', 'default_provider') ?? '');
  const model = String(getTomlKey(text, 'agent', 'default_model') ?? '');
  const cas = getTomlStringArray(text, 'sandbox', 'extra_ca_certs');
  const list = providers.data ?? [];
  const providerNames = Array.from(new Set([...list.map((p) => p.name), ...(provider ? [provider] : [])]));
  const models = Array.from(new Set([...(list.find((p) => p.name === provider)?.models ?? []), ...(model ? [model] : [])]));
  return (
    <div className="config-fields" data-testid="config-fields">
      <label className="config-field">
        <span className="config-label">Theme</span>
        <select
          className="input"
          value={typeof theme === 'string' ? theme : 'system'}
          onChange={(e) => onChange(setTomlKey(text, 'ui', 'theme', e.target.value))}
          data-testid="config-theme"
        >
          <option value="system">Follow the system</option>
          <option value="light">Light</option>
          <option value="dark">Dark</option>
        </select>
      </label>
      <label className="config-field">
        <span className="config-label">Notifications</span>
        <span className="row gap">
          <input
            type="checkbox"
            checked={notifications !== false}
            onChange={(e) => onChange(setTomlKey(text, 'ui', 'notifications', e.target.checked))}
            data-testid="config-notifications"
          />
          <span className="muted small">when a loop finishes a turn or needs you</span>
        </span>
      </label>
      <label className="config-field">
        <span className="config-label">Stop idle sandboxes after</span>
        <span className="row gap">
          <input
            className="input input-small"
            type="number"
            min={0}
            value={typeof idle === 'number' ? idle : 30}
            onChange={(e) => {
              const n = Math.max(0, Math.floor(Number(e.target.value)));
              if (Number.isFinite(n)) onChange(setTomlKey(text, 'sandbox', 'idle_minutes', n));
            }}
            style={{ width: 80 }}
            data-testid="config-idle"
          />
          <span className="muted small">minutes (0 = never)</span>
        </span>
      </label>
      <label className="config-field">
        <span className="config-label">Default provider</span>
        <select
          className="input"
          value={provider}
          onChange={(e) => {
            const next = e.target.value;
            let t = setTomlKey(text, 'agent', 'default_provider', next);
            const first = list.find((p) => p.name === next)?.models?.[0];
            if (first && !(list.find((p) => p.name === next)?.models ?? []).includes(model)) t = setTomlKey(t, 'agent', 'default_model', first);
            onChange(t);
          }}
          data-testid="config-provider"
        >
          {providerNames.map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
      </label>
      <label className="config-field">
        <span className="config-label">Default model</span>
        <span className="row gap">
          <input
            className="input"
            list="config-models"
            value={model}
            onChange={(e) => onChange(setTomlKey(text, 'agent', 'default_model', e.target.value))}
            data-testid="config-model"
          />
          <datalist id="config-models">
            {models.map((m) => (
              <option key={m} value={m} />
            ))}
          </datalist>
          <span className="muted small">for new loops</span>
        </span>
      </label>
      <div className="config-field">
        <span className="config-label">Extra CA certificates</span>
        {cas === null ? (
          <span className="muted small">Set in the advanced view below (not a one-line list).</span>
        ) : (
          <CaList items={cas} onChange={(items) => onChange(setTomlStringArray(text, 'sandbox', 'extra_ca_certs', items))} />
        )}
      </div>
    </div>
  );
}

/** sandbox.extra_ca_certs: PEM files or folders trusted by image builds (corporate TLS proxies). */
function CaList({ items, onChange }: { items: string[]; onChange: (items: string[]) => void }) {
  const [adding, setAdding] = useState('');
  const add = () => {
    const p = adding.trim();
    if (p && !items.includes(p)) onChange([...items, p]);
    setAdding('');
  };
  return (
    <div className="ca-list" data-testid="config-cas">
      {items.length === 0 && <span className="muted small">None. Add a PEM file or a folder of them if a TLS proxy inspects your traffic.</span>}
      {items.map((p) => (
        <span className="ca-item" key={p}>
          <code>{p}</code>
          <button className="icon-btn" aria-label={`Remove ${p}`} onClick={() => onChange(items.filter((x) => x !== p))}>
            ×
          </button>
        </span>
      ))}
      <span className="row gap">
        <input
          className="input input-small"
          placeholder="/path/to/corporate-ca.pem"
          value={adding}
          onChange={(e) => setAdding(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') {
              e.preventDefault();
              add();
            }
          }}
          data-testid="config-ca-input"
        />
        <button className="btn btn-small" disabled={!adding.trim()} onClick={add} data-testid="config-ca-add">
          Add
        </button>
        <span className="muted small">applies after a restart and an image rebuild</span>
      </span>
    </div>
  );
}

function Vault() {
  const status = useLoad<VaultStatus>(() => VaultService.Status(), []);
  const vaults = useLoad<string[]>(() => VaultService.Vaults(), []);
  const [vault, setVault] = useState('default');
  const entries = useLoad<VaultEntry[]>(() => VaultService.List(vault), [vault]);
  // The CLI (`loopat vault ...`) may change secrets while this page is open.
  useEvent('vault:changed', (d: { vault?: string } | null) => {
    vaults.reload();
    if (!d?.vault || d.vault === vault) entries.reload();
  });
  const { busy, run } = useAction();
  const toasts = useToasts();
  const [kind, setKind] = useState<'env' | 'file'>('env');
  const [name, setName] = useState('');
  const [mode, setMode] = useState('0600');
  const [value, setValue] = useState('');
  // What the last save stored: its name and size, never its value.
  const [saved, setSaved] = useState<{ name: string; size: number } | null>(null);

  const names = Array.from(new Set(['default', ...(vaults.data ?? []), vault]));
  const save = async () => {
    if (!name.trim()) {
      toasts.error(new Error(kind === 'env' ? 'Give the variable a name.' : 'Give the file a path.'));
      return;
    }
    let modeBits = 0;
    if (kind === 'file') {
      try {
        modeBits = parseMode(mode);
      } catch (e) {
        toasts.error(e);
        return;
      }
    }
    const size = byteLength(value);
    const ok = await run(async () => {
      if (kind === 'env') await VaultService.SetEnv(vault, name.trim(), value);
      else await VaultService.SetFile(vault, name.trim(), modeBits, value);
      return true;
    });
    if (ok) {
      setSaved({ name: name.trim(), size });
      setValue(''); // secrets are never kept or shown back
      setName('');
      toasts.info('Secret saved.');
      entries.reload();
      vaults.reload();
    }
  };
  const remove = async (e: VaultEntry) => {
    if ((await run(async () => (await VaultService.Delete(vault, e.kind, e.name), true))) !== undefined) entries.reload();
  };
  const [newVault, setNewVault] = useState<string | null>(null);

  return (
    <section>
      <h1>Vault</h1>
      <p className="muted">
        Secrets given to loops: environment variables and files. Values are write-only here; they are never shown again.
      </p>
      {status.data && !status.data.ok && (
        <div className="inline-error">
          {status.data.message} {status.data.fix && <span className="muted">— {status.data.fix}</span>}
        </div>
      )}
      {status.data?.ok && status.data.message && <p className="ok-text small">{status.data.message}</p>}
      <div className="row gap">
        <label className="row gap">
          Vault
          <select className="input" value={vault} onChange={(e) => setVault(e.target.value)} data-testid="vault-select">
            {names.map((v) => (
              <option key={v}>{v}</option>
            ))}
          </select>
        </label>
        {newVault === null ? (
          <button className="btn btn-small" onClick={() => setNewVault('')}>
            New vault…
          </button>
        ) : (
          <form
            className="row gap"
            onSubmit={(e) => {
              e.preventDefault();
              if (newVault.trim()) setVault(newVault.trim());
              setNewVault(null);
            }}
          >
            <input className="input input-small" autoFocus placeholder="vault name" value={newVault} onChange={(e) => setNewVault(e.target.value)} />
            <button className="btn btn-small" type="submit">
              Use
            </button>
          </form>
        )}
      </div>
      <InlineError text={entries.error} onRetry={() => entries.reload()} />
      <table className="table" data-testid="vault-entries">
        <thead>
          <tr>
            <th>Kind</th>
            <th>Name</th>
            <th>Mode</th>
            <th>Size</th>
            <th>Updated</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(entries.data ?? []).map((e) => (
            <tr key={e.kind + e.name}>
              <td>{e.kind}</td>
              <td>
                <code>{e.name}</code>
              </td>
              <td>{formatMode(e.mode)}</td>
              <td>{formatBytes(e.size)}</td>
              <td>{formatTime(e.updated)}</td>
              <td>
                <ConfirmButton label="Delete" question={`Delete ${e.name}?`} disabled={busy} onConfirm={() => remove(e)} />
              </td>
            </tr>
          ))}
          {entries.data && entries.data.length === 0 && (
            <tr>
              <td colSpan={6} className="muted">
                This vault is empty.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <form
        className="card form"
        onSubmit={(e) => {
          e.preventDefault();
          save();
        }}
        autoComplete="off"
      >
        <h2>Set a secret</h2>
        <div className="row gap">
          <label>
            Kind
            <select
              className="input"
              value={kind}
              onChange={(e) => setKind(e.target.value as 'env' | 'file')}
              data-testid="vault-kind"
            >
              <option value="env">Environment variable</option>
              <option value="file">File</option>
            </select>
          </label>
          <label className="grow">
            {kind === 'env' ? 'Name' : 'Path in the sandbox home'}
            <input
              className="input"
              value={name}
              onChange={(e) => setName(e.target.value)}
              placeholder={kind === 'env' ? 'GITHUB_TOKEN' : '.config/gh/hosts.yml'}
              data-testid="vault-name"
            />
          </label>
          {kind === 'file' && (
            <label>
              Mode
              <input
                className="input"
                value={mode}
                onChange={(e) => setMode(e.target.value)}
                size={5}
                data-testid="vault-mode"
              />
            </label>
          )}
        </div>
        <label>
          {kind === 'env' ? 'Value' : 'Contents'}
          {kind === 'env' ? (
            <input
              className="input"
              type="password"
              autoComplete="new-password"
              value={value}
              onChange={(e) => setValue(e.target.value)}
              data-testid="vault-value"
            />
          ) : (
            // A file secret (a key, a config) keeps its newlines: a multi-line box, where
            // Enter is a newline, not a submit.
            <textarea
              className="input secret-editor"
              spellCheck={false}
              autoComplete="off"
              rows={6}
              value={value}
              onChange={(e) => setValue(e.target.value)}
              placeholder="Paste the file's contents, or load it from a file below."
              data-testid="vault-value"
            />
          )}
        </label>
        {kind === 'file' && (
          <label className="small muted">
            Load from a file{' '}
            <input
              type="file"
              data-testid="vault-file"
              onChange={async (e) => {
                const f = e.target.files?.[0];
                if (f) setValue(await f.text());
                e.target.value = '';
              }}
            />
          </label>
        )}
        {saved && (
          <p className="ok-text small" data-testid="vault-saved">
            Saved <code>{saved.name}</code> ({saved.size} bytes). The value is not shown again.
          </p>
        )}
        <div className="form-actions">
          <button className="btn btn-primary" type="submit" disabled={busy} data-testid="vault-save">
            Save secret
          </button>
        </div>
      </form>
    </section>
  );
}

function Sandbox() {
  const status = useLoad<ImageStatus>(() => ImageService.Status(), []);
  const [progress, setProgress] = useState<Partial<ImageProgress> | null>(null);
  const [log, setLog] = useState<string[]>([]);
  const { run } = useAction();
  useEvent(topics.imageProgress, (p: ImageProgress) => {
    setProgress(p);
    if (p.line) setLog((l) => [...l.slice(-300), p.line!]);
    if (p.done) status.reload();
  });
  const building = status.data?.building || (progress !== null && !progress.done);
  const build = () => {
    setLog([]);
    setProgress({ line: 'Starting build…' });
    run(() => ImageService.Build()).then(() => status.reload());
  };
  const [disk, setDisk] = useState<DiskInfo | null>(null);
  const current = (disk?.images ?? []).find((im) => im.current);
  const p = progress ?? status.data?.progress ?? null;
  const percent = p?.percent ?? (p?.step && p?.total ? (100 * p.step) / p.total : undefined);
  return (
    <section>
      <h1>Sandbox</h1>
      <p className="muted">The container image every loop runs in.</p>
      <InlineError text={status.error} onRetry={() => status.reload()} />
      {status.data && (
        <dl className="kv">
          <dt>Image</dt>
          <dd>
            <code>{status.data.ref}</code>
          </dd>
          <dt>Status</dt>
          <dd data-testid="image-present">{status.data.building ? 'building' : status.data.present ? 'built' : 'not built'}</dd>
          {current && (
            <>
              <dt>Size</dt>
              <dd data-testid="image-size">{formatSize(current.size)}</dd>
              <dt>Built</dt>
              <dd data-testid="image-age" title={new Date(current.created * 1000).toLocaleString()}>
                {formatAge(current.created)}
              </dd>
            </>
          )}
        </dl>
      )}
      <p className="muted small rebuild-note" data-testid="image-rebuild-note">
        {status.data?.present
          ? 'A rebuild takes several minutes (typically 3–10: it downloads the base image and tools again). Running loops keep their image; new turns wait for the build.'
          : 'The first build takes several minutes (typically 3–10: it downloads the base image and tools). The first loop waits for it.'}
      </p>
      <button className="btn btn-primary" disabled={building} onClick={build} data-testid="image-build">
        {building ? 'Building…' : status.data?.present ? 'Rebuild image' : 'Build image'}
      </button>
      {p && (
        <div className="build-progress" data-testid="image-progress">
          {p.err ? (
            <div className="inline-error">{p.err}</div>
          ) : p.done ? (
            <div className="ok-text">Image built.</div>
          ) : (
            <ProgressBar
              percent={percent}
              label={`${p.step && p.total ? `Step ${p.step} of ${p.total}` : 'Working'}${p.line ? ` — ${p.line}` : ''}`}
            />
          )}
          {log.length > 0 && <pre className="log">{log.join('\n')}</pre>}
        </div>
      )}
      <DiskSection onInfo={setDisk} />
    </section>
  );
}

function About({ info }: { info?: Info }) {
  const full = useLoad<Info>(() => SystemService.Info(), []);
  const i = full.data ?? info;
  return (
    <section data-testid="about">
      <h1>About loopat</h1>
      <InlineError text={full.error} onRetry={() => full.reload()} />
      {i && (
        <dl className="kv">
          <dt>Version</dt>
          <dd data-testid="about-version">{i.version}</dd>
          <dt>Workspace</dt>
          <dd>{i.workspace}</dd>
          <dt>Home</dt>
          <dd>
            <code>{i.home}</code>
          </dd>
          {i.os && (
            <>
              <dt>OS</dt>
              <dd>{i.os}</dd>
            </>
          )}
          <dt>Transport</dt>
          <dd>{(typeof (window as { go?: unknown }).go !== 'undefined' ? 'desktop' : 'browser')}</dd>
          {Object.entries(i.versions ?? {}).map(([k, v]) => (
            <div className="kv-row" key={k}>
              <dt>{k}</dt>
              <dd>{v}</dd>
            </div>
          ))}
        </dl>
      )}
    </section>
  );
}

/** Bytes as a person reads them (images are hundreds of MB to GB). */
function formatSize(n: number): string {
  if (!Number.isFinite(n) || n <= 0) return '—';
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
  if (n >= 1e6) return `${Math.round(n / 1e6)} MB`;
  return `${Math.round(n / 1e3)} kB`;
}

/** How long ago unix seconds t was, in the largest whole unit. */
function formatAge(t: number): string {
  const s = Math.max(0, Date.now() / 1000 - t);
  if (s < 90) return 'just now';
  if (s < 5400) return `${Math.round(s / 60)} minutes ago`;
  if (s < 129600) return `${Math.round(s / 3600)} hours ago`;
  return `${Math.round(s / 86400)} days ago`;
}

// The loop's provider and model: the providers from config with their models, or any
// model id typed in. LoopService.SetModel keeps the model in meta.json and a running
// agent switches at once; LoopService.SetProvider switches the provider (the agent
// restarts with --resume on its next message, so the conversation goes on).
import './pending.css';
import { useEffect, useState } from 'react';
import { call } from '../api/rpc';
import { useAction, useLoad } from '../ui';

export function ModelPicker({
  loopId,
  model,
  provider = '',
  onChange,
}: {
  loopId: string;
  model: string;
  provider?: string;
  onChange: (model: string, provider?: string) => void;
}) {
  const providers = useLoad(() => call('ProviderService', 'List').then((l) => l ?? []), []);
  const [text, setText] = useState(model);
  useEffect(() => setText(model), [model]);
  const act = useAction();
  const list = providers.data ?? [];
  const current = list.find((p) => p.name === provider);
  // The current provider's models first; any other provider's as well (typing one keeps the provider).
  const models = Array.from(new Set([...(current?.models ?? []), ...list.flatMap((p) => p.models ?? [])]));
  const apply = () => {
    const m = text.trim();
    if (!m || m === model) return;
    act
      .run(async () => {
        await call('LoopService', 'SetModel', loopId, m);
        return true;
      })
      .then((ok) => {
        if (ok) onChange(m, provider);
        else setText(model); // refused: show the model in force again
      });
  };
  const switchProvider = (name: string) => {
    if (name === provider) return;
    act.run(async () => {
      await call('LoopService', 'SetProvider', loopId, name, '');
      const meta = await call('LoopService', 'Get', loopId);
      onChange(meta.model, meta.provider);
    });
  };
  return (
    <span className="small muted model-picker" title="The loop's provider and model; switching keeps the conversation">
      {list.length > 0 && (
        <label>
          Provider{' '}
          <select
            className="input input-small"
            value={provider}
            disabled={act.busy}
            onChange={(e) => switchProvider(e.target.value)}
            data-testid="provider-picker"
          >
            {!current && <option value={provider}>{provider || '—'}</option>}
            {list.map((p) => (
              <option key={p.name} value={p.name}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
      )}{' '}
      <label>
        Model{' '}
        <input
          className="input input-small"
          list={`models-${loopId}`}
          value={text}
          size={14}
          disabled={act.busy}
          onChange={(e) => setText(e.target.value)}
          onBlur={apply}
          onKeyDown={(e) => {
            if (e.key === 'Enter') apply();
          }}
          data-testid="model-picker"
        />
      </label>
      <datalist id={`models-${loopId}`}>
        {models.map((m) => (
          <option key={m} value={m} />
        ))}
      </datalist>
    </span>
  );
}

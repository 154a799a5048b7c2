// The loop's model: the providers' models from config, or any model id typed in.
import './pending.css';
// LoopService.SetModel keeps it in meta.json; a running agent switches at once.
import { useState } from 'react';
import { call } from '../api/rpc';
import { useAction, useLoad } from '../ui';

export function ModelPicker({ loopId, model, onChange }: { loopId: string; model: string; onChange: (m: string) => void }) {
  const providers = useLoad(() => call('ProviderService', 'List').then((l) => l ?? []), []);
  const [text, setText] = useState(model);
  const act = useAction();
  const models = Array.from(new Set((providers.data ?? []).flatMap((p) => p.models ?? [])));
  const apply = () => {
    const m = text.trim();
    if (!m || m === model) return;
    act.run(() => call('LoopService', 'SetModel', loopId, m)).then(() => onChange(m));
  };
  return (
    <label className="small muted" title="The loop's model; switching keeps the conversation">
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
      <datalist id={`models-${loopId}`}>
        {models.map((m) => (
          <option key={m} value={m} />
        ))}
      </datalist>
    </label>
  );
}

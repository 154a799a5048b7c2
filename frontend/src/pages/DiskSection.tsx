// Settings → Sandbox → Disk: loads ImageService.Disk and runs ImageService.Prune.
import { useEffect, useState } from 'react';
import { call } from '../api/rpc';
import { LoopService, type LoopMeta } from '../api/services';
import { describeError, useLoad } from '../ui';
import { DiskView, type DiskInfo, type PruneResult } from './DiskView';
import './disk.css';

const DiskService = {
  // Typed by generated.ts: tsc checks Go's DiskView and PruneResult against DiskView.tsx's types.
  Disk: (): Promise<DiskInfo> => call('ImageService', 'Disk'),
  Prune: (): Promise<PruneResult> => call('ImageService', 'Prune'),
};

/** onInfo hears each disk reading (Settings → Sandbox shows the current image's size and age from it). */
export function DiskSection({ onInfo }: { onInfo?: (d: DiskInfo) => void } = {}) {
  const disk = useLoad<DiskInfo>(() => DiskService.Disk(), []);
  useEffect(() => {
    if (disk.data) onInfo?.(disk.data);
  }, [disk.data]); // eslint-disable-line react-hooks/exhaustive-deps
  const loops = useLoad<LoopMeta[]>(() => LoopService.List(), []);
  const [cleaning, setCleaning] = useState(false);
  const [result, setResult] = useState<PruneResult | null>(null);
  const [error, setError] = useState<string | undefined>();
  const titles = Object.fromEntries((loops.data ?? []).map((l) => [l.id, l.title]));
  const clean = async () => {
    setCleaning(true);
    setResult(null);
    setError(undefined);
    try {
      setResult(await DiskService.Prune());
    } catch (e) {
      setError(describeError(e).text);
    } finally {
      setCleaning(false);
      disk.reload();
    }
  };
  return (
    <DiskView
      info={disk.data}
      loading={disk.loading}
      error={error ?? disk.error}
      cleaning={cleaning}
      result={result}
      titles={titles}
      onClean={clean}
      onReload={() => disk.reload()}
    />
  );
}

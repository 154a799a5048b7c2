// Settings → Sandbox → Disk, the pure view: what the sandbox uses on this machine and the
// clean-up result. No hooks or API here so it renders the same in tests (DiskSection wires it).
import { createElement as h, type ReactNode } from 'react';
import type * as gen from '../api/generated';

// The shapes of ImageService.Disk and Prune, as generated from Go (uniqueSize is -1 when unknown).
export type DiskImage = gen.DiskImage;
export type LoopDisk = gen.LoopDisk;
export type CacheDisk = gen.CacheDisk;
export type DiskInfo = gen.DiskView;
export type PruneResult = gen.PruneResult;

/** Decimal units, as podman and Finder report sizes: 3_900_000_000 → "3.9 GB". */
export function diskSize(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '?';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

export function pruneMessage(r: PruneResult): string {
  const removed = r.removed?.length ?? 0;
  const untagged = r.untagged?.length ?? 0;
  if (removed === 0 && untagged === 0) return 'Nothing to clean up.';
  const parts = [`Freed ${diskSize(r.freed)}`];
  if (removed) parts.push(`removed ${removed} old image${removed === 1 ? '' : 's'}`);
  if (untagged) parts.push(`released ${untagged} still used by other workspaces`);
  return parts.join(' — ');
}

export function imageState(im: DiskImage, title: (id: string) => string): string {
  if (im.current) return 'current';
  if (im.loops?.length) return `superseded, in use by ${im.loops.map(title).join(', ')}`;
  if (im.others) return `superseded, in use by ${im.others} other container${im.others === 1 ? '' : 's'}`;
  return im.removable ? 'superseded, unused' : 'superseded, kept (a kept image is built on it)';
}

export interface DiskViewProps {
  info?: DiskInfo;
  loading: boolean;
  error?: string;
  cleaning: boolean;
  result?: PruneResult | null;
  titles?: Record<string, string>;
  onClean: () => void;
  onReload: () => void;
}

export function DiskView(p: DiskViewProps): ReactNode {
  const title = (id: string) => p.titles?.[id] || id.slice(0, 8);
  const info = p.info;
  const images = info?.images ?? [];
  const loops = info?.loops ?? [];
  const caches = info?.caches ?? [];
  const removable = images.filter((im) => im.removable).length;
  const children: ReactNode[] = [
    h('h2', { key: 'h' }, 'Disk'),
    h('p', { key: 'intro', className: 'muted' }, 'Each Containerfile or forwarder change builds a new image of about 2 GB; older ones stay until cleaned up.'),
  ];
  if (p.error) children.push(h('div', { key: 'err', className: 'inline-error' }, p.error));
  if (!info && p.loading) children.push(h('p', { key: 'load', className: 'muted', 'data-testid': 'disk-loading' }, 'Measuring…'));
  if (info) {
    if (info.imagesError) children.push(h('div', { key: 'ierr', className: 'inline-error' }, `Images unavailable: ${info.imagesError}`));
    if (images.length === 0 && loops.length === 0 && caches.length === 0) {
      children.push(h('p', { key: 'empty', className: 'muted', 'data-testid': 'disk-empty' }, 'Nothing on disk yet: no sandbox images or loop folders.'));
    }
    if (images.length) {
      children.push(
        h('table', { key: 'imgs', className: 'disk-table', 'data-testid': 'disk-images' }, [
          h('thead', { key: 'h' }, h('tr', null, h('th', null, 'Image'), h('th', null, 'Size'), h('th', null, 'State'))),
          h(
            'tbody',
            { key: 'b' },
            images.map((im) =>
              h(
                'tr',
                { key: im.id, 'data-testid': im.removable ? 'disk-image-removable' : 'disk-image' },
                h('td', null, h('code', null, im.ref)),
                h('td', null, diskSize(im.size)),
                h('td', null, imageState(im, title)),
              ),
            ),
          ),
        ]),
      );
    }
    if (loops.length) {
      children.push(
        h('table', { key: 'loops', className: 'disk-table', 'data-testid': 'disk-loops' }, [
          h('thead', { key: 'h' }, h('tr', null, h('th', null, 'Loop'), h('th', null, 'Workdir'), h('th', null, 'Home'))),
          h(
            'tbody',
            { key: 'b' },
            loops.map((l) =>
              h(
                'tr',
                { key: l.id },
                h('td', null, title(l.id)),
                h('td', null, diskSize(l.workdir) + (l.partial ? '+' : '')),
                h('td', null, diskSize(l.home) + (l.partial ? '+' : '')),
              ),
            ),
          ),
        ]),
      );
    }
    if (caches.length) {
      children.push(
        h(
          'ul',
          { key: 'caches', className: 'disk-caches', 'data-testid': 'disk-caches' },
          caches.map((c) => h('li', { key: c.loop + c.path }, `${title(c.loop)}: ~/${c.path} ${diskSize(c.size)}`)),
        ),
      );
    }
    children.push(
      h(
        'div',
        { key: 'actions', className: 'row' },
        h(
          'button',
          { className: 'btn', disabled: p.cleaning || removable === 0, onClick: p.onClean, 'data-testid': 'disk-clean' },
          p.cleaning ? 'Cleaning up…' : removable ? `Clean up (${removable} old image${removable === 1 ? '' : 's'}, up to ${diskSize(info.reclaimable)})` : 'Clean up',
        ),
        h('button', { className: 'btn btn-small', disabled: p.loading || p.cleaning, onClick: p.onReload }, 'Refresh'),
      ),
    );
  }
  if (p.cleaning) children.push(h('div', { key: 'prog', className: 'progress-label muted', 'data-testid': 'disk-progress' }, 'Removing superseded images…'));
  if (p.result) {
    children.push(h('div', { key: 'res', className: 'ok-text', 'data-testid': 'disk-result' }, pruneMessage(p.result)));
    for (const f of p.result.failed ?? []) children.push(h('div', { key: 'f' + f, className: 'inline-error' }, `Kept ${f}`));
  }
  return h('div', { className: 'disk', 'data-testid': 'disk' }, children);
}

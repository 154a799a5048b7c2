// Pure helpers behind Settings (kept apart from the components so they are unit-tested).
import type { ConfigFile, Theme } from '../api/services';

/**
 * Parses a file secret's mode as typed ("0600", "600", "0o600") into the number the
 * backend takes (VaultService.SetFile's mode is an int: 0o600 = 384).
 */
export function parseMode(text: string): number {
  const t = text.trim().replace(/^0o/i, '');
  if (!/^[0-7]{1,4}$/.test(t)) throw new Error(`Mode "${text}" is not an octal permission like 0600.`);
  const mode = parseInt(t, 8);
  if (mode > 0o777) throw new Error(`Mode "${text}" has bits beyond 0777.`);
  if ((mode & 0o400) === 0) throw new Error(`Mode "${text}" does not let the owner read the file.`);
  return mode;
}

/** 384 → "0600". */
export function formatMode(mode: number | undefined | null): string {
  if (mode === undefined || mode === null) return '';
  return '0' + mode.toString(8).padStart(3, '0');
}

/** The size a secret's value will have when stored (UTF-8 bytes, newlines included). */
export function byteLength(value: string): number {
  return new TextEncoder().encode(value).length;
}

/** What Settings says after a save: done, or which keys wait for a restart. */
export function savedMessage(res: Pick<ConfigFile, 'changed' | 'restart'>): string {
  const restart = res.restart ?? [];
  if (restart.length > 0) return `Saved. Restart loopat to apply: ${restart.join(', ')}`;
  if ((res.changed ?? []).length === 0) return 'Saved (nothing changed).';
  return 'Saved. Changes are in effect.';
}

/** The theme to use for a config value; anything unknown falls back to the OS's. */
export function normaliseTheme(t: unknown): Theme {
  return t === 'light' || t === 'dark' ? t : 'system';
}

/** Applies ui.theme to <html data-theme>; the stylesheet resolves "system" with prefers-color-scheme. */
export function applyTheme(t: unknown, root: { setAttribute(name: string, value: string): void }): Theme {
  const theme = normaliseTheme(t);
  root.setAttribute('data-theme', theme);
  return theme;
}

type TomlValue = string | number | boolean;

/** Line range [start, end) of a [section]'s body in TOML text, or null if absent. */
function sectionBody(lines: string[], section: string): [number, number] | null {
  const header = lines.findIndex((l) => l.trim() === `[${section}]`);
  if (header < 0) return null;
  let end = header + 1;
  while (end < lines.length && !/^\s*\[/.test(lines[end])) end++;
  return [header + 1, end];
}

const keyLine = (key: string) => new RegExp(`^\\s*${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*=`);

/** The value of section.key in TOML text (simple scalars only), or undefined. */
export function getTomlKey(text: string, section: string, key: string): TomlValue | undefined {
  const lines = text.split('\n');
  const body = sectionBody(lines, section);
  if (!body) return undefined;
  for (let i = body[0]; i < body[1]; i++) {
    if (!keyLine(key).test(lines[i])) continue;
    const raw = lines[i].slice(lines[i].indexOf('=') + 1).replace(/\s+#.*$/, '').trim();
    if (raw === 'true' || raw === 'false') return raw === 'true';
    if (/^-?\d+$/.test(raw)) return Number(raw);
    if (/^".*"$/.test(raw)) {
      try {
        return JSON.parse(raw) as string;
      } catch {
        return raw.slice(1, -1);
      }
    }
    return raw;
  }
  return undefined;
}

/**
 * Sets section.key in TOML text, keeping everything else (comments, order) as it is:
 * the key's line is replaced, or added under its section, or the section is appended.
 */
export function setTomlKey(text: string, section: string, key: string, value: TomlValue | { raw: string }): string {
  const rendered = `${key} = ${typeof value === 'object' ? value.raw : typeof value === 'string' ? JSON.stringify(value) : String(value)}`;
  const lines = text.split('\n');
  const body = sectionBody(lines, section);
  if (!body) {
    const sep = text === '' || text.endsWith('\n') ? '' : '\n';
    return `${text}${sep}\n[${section}]\n${rendered}\n`;
  }
  for (let i = body[0]; i < body[1]; i++) {
    if (keyLine(key).test(lines[i])) {
      lines[i] = rendered;
      return lines.join('\n');
    }
  }
  lines.splice(body[0], 0, rendered);
  return lines.join('\n');
}

/**
 * A one-line TOML array of strings (section.key = ["a", "b"]): its items, [] when the key
 * is absent, or null when the value is not such an array (multi-line, other types): the
 * field then leaves it to the raw editor.
 */
export function getTomlStringArray(text: string, section: string, key: string): string[] | null {
  const v = getTomlKey(text, section, key);
  if (v === undefined) return [];
  if (typeof v !== 'string' || !/^\[.*\]$/.test(v)) return null;
  try {
    const parsed: unknown = JSON.parse(v.replace(/,\s*\]$/, ']'));
    return Array.isArray(parsed) && parsed.every((x) => typeof x === 'string') ? (parsed as string[]) : null;
  } catch {
    return null;
  }
}

/** Sets section.key to a one-line array of strings (see setTomlKey for what is kept). */
export function setTomlStringArray(text: string, section: string, key: string, items: string[]): string {
  const rendered = `[${items.map((i) => JSON.stringify(i)).join(', ')}]`;
  return setTomlKey(text, section, key, { raw: rendered });
}

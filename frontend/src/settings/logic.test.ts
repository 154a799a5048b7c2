import { describe, expect, it } from 'vitest';
import { applyTheme, byteLength, formatMode, getTomlKey, getTomlStringArray, parseMode, savedMessage, setTomlKey, setTomlStringArray } from './logic';

describe('parseMode', () => {
  it('reads octal text as the number the backend takes', () => {
    expect(parseMode('0600')).toBe(384);
    expect(parseMode('600')).toBe(0o600);
    expect(parseMode(' 0o644 ')).toBe(0o644);
    expect(parseMode('0400')).toBe(0o400);
  });
  it('refuses what is not a permission', () => {
    expect(() => parseMode('rw-------')).toThrow(/octal/);
    expect(() => parseMode('0800')).toThrow(/octal/);
    expect(() => parseMode('')).toThrow(/octal/);
    expect(() => parseMode('7777')).toThrow(/beyond 0777/);
    expect(() => parseMode('0200')).toThrow(/owner read/);
  });
  it('round-trips through formatMode', () => {
    expect(formatMode(384)).toBe('0600');
    expect(formatMode(0o755)).toBe('0755');
    expect(formatMode(undefined)).toBe('');
  });
});

describe('byteLength', () => {
  it('counts UTF-8 bytes including newlines', () => {
    expect(byteLength('a\nb\n')).toBe(4);
    expect(byteLength('é')).toBe(2);
  });
});

describe('savedMessage', () => {
  it('names the keys that need a restart', () => {
    expect(savedMessage({ changed: ['sandbox.base_image', 'ui.theme'], restart: ['sandbox.base_image'] })).toBe(
      'Saved. Restart loopat to apply: sandbox.base_image',
    );
  });
  it('says live changes are in effect', () => {
    expect(savedMessage({ changed: ['ui.theme'], restart: [] })).toBe('Saved. Changes are in effect.');
    expect(savedMessage({})).toBe('Saved (nothing changed).');
  });
});

describe('applyTheme', () => {
  it('sets data-theme on the root, unknown values follow the system', () => {
    const attrs: Record<string, string> = {};
    const root = { setAttribute: (k: string, v: string) => (attrs[k] = v) };
    expect(applyTheme('dark', root)).toBe('dark');
    expect(attrs['data-theme']).toBe('dark');
    applyTheme('light', root);
    expect(attrs['data-theme']).toBe('light');
    applyTheme('purple', root);
    expect(attrs['data-theme']).toBe('system');
  });
});

describe('getTomlKey / setTomlKey', () => {
  const text = '# top\n[sandbox]\n# minutes\nidle_minutes = 30 # comment\n\n[ui]\ntheme = "system"\nnotifications = true\n';
  it('reads scalars from their section only', () => {
    expect(getTomlKey(text, 'sandbox', 'idle_minutes')).toBe(30);
    expect(getTomlKey(text, 'ui', 'theme')).toBe('system');
    expect(getTomlKey(text, 'ui', 'notifications')).toBe(true);
    expect(getTomlKey(text, 'ui', 'idle_minutes')).toBeUndefined();
    expect(getTomlKey(text, 'agent', 'x')).toBeUndefined();
  });
  it('replaces a key in place, keeping comments and order', () => {
    const out = setTomlKey(text, 'ui', 'theme', 'dark');
    expect(out).toBe(text.replace('theme = "system"', 'theme = "dark"'));
    expect(setTomlKey(text, 'sandbox', 'idle_minutes', 5)).toContain('# minutes\nidle_minutes = 5\n');
  });
  it('adds a missing key under its section, or the section itself', () => {
    expect(getTomlKey(setTomlKey(text, 'sandbox', 'trust_host_cas', false), 'sandbox', 'trust_host_cas')).toBe(false);
    const added = setTomlKey('[ui]\ntheme = "light"', 'host_exec', 'allow_any_cli', true);
    expect(added).toBe('[ui]\ntheme = "light"\n\n[host_exec]\nallow_any_cli = true\n');
  });
  it('does not touch a same-named key of another section', () => {
    const two = '[a]\nx = 1\n[b]\nx = 2\n';
    expect(setTomlKey(two, 'b', 'x', 3)).toBe('[a]\nx = 1\n[b]\nx = 3\n');
  });
});

describe('getTomlStringArray / setTomlStringArray', () => {
  const text = '[sandbox]\n# trusted by builds\nextra_ca_certs = []\nidle_minutes = 30\n';
  it('reads and writes a one-line array in place, keeping comments', () => {
    expect(getTomlStringArray(text, 'sandbox', 'extra_ca_certs')).toEqual([]);
    const set = setTomlStringArray(text, 'sandbox', 'extra_ca_certs', ['/etc/ssl/corp.pem', 'C:\\certs']);
    expect(set).toBe('[sandbox]\n# trusted by builds\nextra_ca_certs = ["/etc/ssl/corp.pem", "C:\\\\certs"]\nidle_minutes = 30\n');
    expect(getTomlStringArray(set, 'sandbox', 'extra_ca_certs')).toEqual(['/etc/ssl/corp.pem', 'C:\\certs']);
  });
  it('is [] when absent and null for what a field cannot edit', () => {
    expect(getTomlStringArray('[ui]\n', 'sandbox', 'extra_ca_certs')).toEqual([]);
    expect(getTomlStringArray('[sandbox]\nextra_ca_certs = [\n', 'sandbox', 'extra_ca_certs')).toBeNull();
    expect(getTomlStringArray('[sandbox]\nextra_ca_certs = [1, 2]\n', 'sandbox', 'extra_ca_certs')).toBeNull();
  });
});

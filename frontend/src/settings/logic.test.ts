import { describe, expect, it } from 'vitest';
import { applyTheme, byteLength, formatMode, parseMode, savedMessage } from './logic';

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
    expect(savedMessage({ changed: null, restart: null })).toBe('Saved (nothing changed).');
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

import { describe, expect, it } from 'vitest';
import { forwardURLFor } from './PortPreview';

describe('forwardURLFor', () => {
  it('shows a forward on the other loopback name than the UI (no shared cookie, another site)', () => {
    expect(forwardURLFor('http://127.0.0.1:18080/', '127.0.0.1', false)).toBe('http://localhost:18080/');
    expect(forwardURLFor('http://127.0.0.1:18080/', 'localhost', false)).toBe('http://127.0.0.1:18080/');
    expect(forwardURLFor('http://127.0.0.1:18080/', '::1', false)).toBe('http://localhost:18080/');
  });
  it('keeps the URL in the desktop window and for anything that is not a loopback http URL', () => {
    expect(forwardURLFor('http://127.0.0.1:18080/', '127.0.0.1', true)).toBe('http://127.0.0.1:18080/');
    expect(forwardURLFor('https://example.com/', '127.0.0.1', false)).toBe('https://example.com/');
    expect(forwardURLFor('not a url', '127.0.0.1', false)).toBe('not a url');
    expect(forwardURLFor('', '127.0.0.1', false)).toBe('');
  });
});

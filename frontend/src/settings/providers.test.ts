import { describe, expect, it } from 'vitest';
import { parseModels } from './Providers';

describe('parseModels', () => {
  it('takes one id per line or comma separated, trimmed, without blanks or repeats', () => {
    expect(parseModels(' a \nb, c\n\n,a ,')).toEqual(['a', 'b', 'c']);
    expect(parseModels('')).toEqual([]);
  });
});

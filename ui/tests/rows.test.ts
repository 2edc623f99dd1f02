import { describe, expect, it } from 'vitest';
import { handedTo, partitionValues } from '../src/lib/rows';

describe('partitionValues', () => {
  it('places a text or choice in one value, tags in each, nothing else anywhere', () => {
    expect(partitionValues('north')).toEqual(['north']);
    expect(partitionValues(['b', 'a', 'b'])).toEqual(['a', 'b']);
    expect(partitionValues('')).toEqual([]);
    expect(partitionValues(null)).toEqual([]);
    expect(partitionValues(3)).toEqual([]);
  });
});

describe('handedTo', () => {
  const rows = { field: 'region', read: ['north'], write: ['north', 'west'] };

  it('names a value I may write but not read', () => {
    expect(handedTo(rows, 'west')).toEqual(['west']);
  });

  it('is empty while I still see the record, or cannot place it there at all', () => {
    expect(handedTo(rows, 'north')).toEqual([]);
    expect(handedTo(rows, ['north', 'west'])).toEqual([]);
    expect(handedTo(rows, 'south')).toEqual([]);
    expect(handedTo(rows, null)).toEqual([]);
  });

  it('is empty when my rows are not limited for reading', () => {
    expect(handedTo(null, 'west')).toEqual([]);
    expect(handedTo({ field: 'region', read: null, write: ['north'] }, 'west')).toEqual([]);
  });
});

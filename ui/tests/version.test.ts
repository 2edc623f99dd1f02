import { describe, expect, it } from 'vitest';
import { versionLabel } from '../src/lib/version';

describe('versionLabel', () => {
  it('labels a plain semver version', () => {
    expect(versionLabel('0.1.0')).toBe('Version 0.1.0');
  });

  it('drops a leading "v" and surrounding whitespace', () => {
    expect(versionLabel('  v1.2.3-beta.1 ')).toBe('Version 1.2.3-beta.1');
  });

  it('shows nothing when the version is unknown', () => {
    expect(versionLabel(null)).toBe('');
    expect(versionLabel(undefined)).toBe('');
    expect(versionLabel('   ')).toBe('');
  });
});

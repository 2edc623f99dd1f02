import { describe, expect, it } from 'vitest';
import {
  count, date, dateExample, dateForm, dateTime, dateTimePlaceholder, formatDateInput, formatDateTimeInput, number,
  parseDateInput, parseDateTimeInput, parseNumberInput, resolveLocale,
} from '../src/lib/locale';

describe('resolveLocale', () => {
  it('takes the first locale Intl knows', () => {
    expect(resolveLocale(['de-DE', 'en-US'])).toBe('de-DE');
    expect(resolveLocale(['en-GB'])).toBe('en-GB');
    expect(resolveLocale(['C', 'fr-FR'])).toBe('fr-FR');
  });

  it('reads POSIX-style names as the OS writes them', () => {
    expect(resolveLocale(['de_DE.UTF-8'])).toBe('de-DE');
    expect(resolveLocale(['de_DE@euro'])).toBe('de-DE');
  });

  it('falls back to en-US for a missing, C, POSIX or bogus locale, so counts are grouped', () => {
    for (const languages of [undefined, null, [], [''], ['C'], ['c'], ['POSIX'], ['C.UTF-8'], ['!!'], ['zz-ZZ'], [undefined]]) {
      const loc = resolveLocale(languages);
      expect(loc, JSON.stringify(languages)).toBe('en-US');
      expect(count(1234, loc)).toBe('1,234');
    }
  });

  it('keeps locales that group thousands in their own way', () => {
    expect(resolveLocale(['hi-IN'])).toBe('hi-IN');
    expect(count(1234567, 'hi-IN')).toBe('12,34,567');
    // Spanish groups only from five digits, but it does group.
    expect(resolveLocale(['es-ES'])).toBe('es-ES');
  });
});

describe('numbers', () => {
  it('groups counts in the locale', () => {
    expect(count(1234, 'de-DE')).toBe('1.234');
    expect(count(1234, 'en-US')).toBe('1,234');
    expect(count(1234n, 'en-GB')).toBe('1,234');
    expect(count(12, 'de-DE')).toBe('12');
    expect(number(1234.5, 'de-DE')).toBe('1.234,5');
    expect(number(0.125, 'en-US')).toBe('0.125');
  });

  it('reads typed numbers in the locale', () => {
    expect(parseNumberInput('1.234,5', 'de-DE')).toBe(1234.5);
    expect(parseNumberInput('1234,5', 'de-DE')).toBe(1234.5);
    expect(parseNumberInput('1.234', 'de-DE')).toBe(1234);
    expect(parseNumberInput('1,234', 'en-US')).toBe(1234);
    expect(parseNumberInput('1,5', 'en-US')).toBe(1.5);
    expect(parseNumberInput('-2.5', 'en-GB')).toBe(-2.5);
    expect(parseNumberInput('1 234', 'fr-FR')).toBe(1234);
    expect(parseNumberInput('1,2,3', 'en-US')).toBeNull();
    expect(parseNumberInput('abc', 'de-DE')).toBeNull();
  });
});

describe('dates shown', () => {
  it('formats calendar dates without a time-zone shift', () => {
    expect(date('2026-12-31', 'de-DE')).toBe('31.12.2026');
    expect(date('2026-11-12', 'en-US')).toBe('Nov 12, 2026');
    expect(date('2026-11-12', 'en-GB')).toBe('12 Nov 2026');
    expect(date('not a date', 'de-DE')).toBe('not a date');
  });

  it('formats instants with a time', () => {
    expect(dateTime(Date.UTC(2026, 11, 31, 12), 'de-DE')).toMatch(/^31\.12\.2026, \d{2}:00$/);
    expect(dateTime('nonsense', 'de-DE')).toBe('nonsense');
  });
});

describe('dates typed', () => {
  it('knows each locale\'s numeric form', () => {
    expect(dateForm('de-DE').placeholder).toBe('dd.mm.yyyy');
    expect(dateForm('en-US').placeholder).toBe('mm/dd/yyyy');
    expect(dateForm('en-GB').placeholder).toBe('dd/mm/yyyy');
    expect(dateExample('de-DE')).toBe('31.12.2026');
    expect(dateTimePlaceholder('de-DE')).toBe('dd.mm.yyyy hh:mm');
    expect(dateTimePlaceholder('en-US')).toBe('mm/dd/yyyy h:mm AM');
  });

  it('shows stored dates in that form', () => {
    expect(formatDateInput('2026-12-31', 'de-DE')).toBe('31.12.2026');
    expect(formatDateInput('2026-12-31', 'en-US')).toBe('12/31/2026');
    expect(formatDateInput('2026-12-31', 'en-GB')).toBe('31/12/2026');
  });

  it('reads the locale form and ISO, and rejects impossible dates', () => {
    expect(parseDateInput('31.12.2026', 'de-DE')).toBe('2026-12-31');
    expect(parseDateInput('1.2.2026', 'de-DE')).toBe('2026-02-01');
    expect(parseDateInput('12/31/2026', 'en-US')).toBe('2026-12-31');
    expect(parseDateInput('31/12/2026', 'en-GB')).toBe('2026-12-31');
    expect(parseDateInput('2026-12-31', 'de-DE')).toBe('2026-12-31');
    expect(parseDateInput('2026-12-31', 'en-US')).toBe('2026-12-31');
    expect(parseDateInput('29.02.2024', 'de-DE')).toBe('2024-02-29');
    for (const bad of ['31.02.2026', '29.02.2026', '32.01.2026', '01.13.2026', '31.12.26', '2026-02-30', 'tomorrow', '', '31.12']) {
      expect(parseDateInput(bad, 'de-DE'), bad).toBeNull();
    }
    // The US order reads 31/12 as month 31.
    expect(parseDateInput('31/12/2026', 'en-US')).toBeNull();
  });

  it('round-trips date-times in local time', () => {
    for (const loc of ['de-DE', 'en-US', 'en-GB']) {
      const shown = formatDateTimeInput('2026-12-20T21:30:00Z', loc);
      expect(parseDateTimeInput(shown, loc), `${loc}: ${shown}`).toBe('2026-12-20T21:30:00.000Z');
    }
  });

  it('reads typed date-times in 24-hour, 12-hour and ISO forms', () => {
    const at = (h: number, m = 30) => new Date(2026, 11, 20, h, m).toISOString();
    expect(parseDateTimeInput('20.12.2026 09:30', 'de-DE')).toBe(at(9));
    expect(parseDateTimeInput('12/20/2026, 9:30 PM', 'en-US')).toBe(at(21));
    expect(parseDateTimeInput('12/20/2026 12:05 am', 'en-US')).toBe(at(0, 5));
    expect(parseDateTimeInput('2026-12-20T09:30', 'en-GB')).toBe(at(9));
    expect(parseDateTimeInput('20.12.2026 25:00', 'de-DE')).toBeNull();
    expect(parseDateTimeInput('31.02.2026 09:30', 'de-DE')).toBeNull();
    expect(parseDateTimeInput('20.12.2026', 'de-DE')).toBeNull();
  });
});

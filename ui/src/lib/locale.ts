// Every date, time and number the app shows goes through here, in the
// user's locale (the OS one, as the webview reports it). The locale is read
// once at start; everything also takes one explicitly, for tests.

export const FALLBACK = 'en-US';

/** Turns "de_DE.UTF-8" or "de_DE@euro" (POSIX style) into "de-DE". */
function tidy(tag: string): string {
  return tag.trim().replace(/[.@].*$/, '').replace(/_/g, '-');
}

/** Whether Intl knows `tag` well enough to group thousands ("1,234,567", not "1234567"). */
function usable(tag: string): boolean {
  try {
    const [canonical] = Intl.getCanonicalLocales(tag);
    if (!canonical || Intl.NumberFormat.supportedLocalesOf(canonical).length === 0) return false;
    // Some locales group only from five digits (es: "1234"), so test a longer
    // number; any grouping counts (hi-IN: "12,34,567").
    return /\d\D+\d/.test(new Intl.NumberFormat(canonical, { numberingSystem: 'latn' }).format(1_234_567));
  } catch {
    return false;
  }
}

/**
 * The locale to format with: the first of `languages` that Intl knows and
 * that groups thousands; en-US when there is none (a missing locale, "C",
 * "POSIX", or nonsense), so counts always read "1,234".
 */
export function resolveLocale(languages: readonly (string | null | undefined)[] | null | undefined): string {
  for (const raw of languages ?? []) {
    if (!raw) continue;
    const tag = tidy(raw);
    if (!tag || /^(c|posix)$/i.test(tag)) continue;
    if (usable(tag)) return Intl.getCanonicalLocales(tag)[0]!;
  }
  return FALLBACK;
}

function systemLanguages(): readonly string[] {
  if (typeof navigator === 'undefined') return [];
  return navigator.languages?.length ? navigator.languages : [navigator.language];
}

/** The user's locale, e.g. "de-DE". */
export const locale: string = resolveLocale(systemLanguages());

// Formatters are costly to make and lists make many values: one per locale and options.
const cache = new Map<string, Intl.NumberFormat | Intl.DateTimeFormat>();
function numberFormat(loc: string, options: Intl.NumberFormatOptions): Intl.NumberFormat {
  const key = `n|${loc}|${JSON.stringify(options)}`;
  let f = cache.get(key) as Intl.NumberFormat | undefined;
  if (!f) cache.set(key, (f = new Intl.NumberFormat(loc, options)));
  return f;
}
function dateFormat(loc: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `d|${loc}|${JSON.stringify(options)}`;
  let f = cache.get(key) as Intl.DateTimeFormat | undefined;
  if (!f) cache.set(key, (f = new Intl.DateTimeFormat(loc, options)));
  return f;
}

const toNumber = (n: number | bigint | string) => (typeof n === 'number' ? n : Number(n));

/** A count with thousands separators: "1,234" (en-US), "1.234" (de-DE). */
export function count(n: number | bigint | string, loc = locale): string {
  return numberFormat(loc, { maximumFractionDigits: 0 }).format(toNumber(n));
}

/** A number as the list and dialogs show it: "1,234.5" (en-US), "1.234,5" (de-DE). */
export function number(n: number, loc = locale): string {
  return numberFormat(loc, { maximumFractionDigits: 6 }).format(n);
}

function symbols(loc: string): { decimal: string; group: string } {
  const parts = numberFormat(loc, { numberingSystem: 'latn' }).formatToParts(1234567.5);
  return {
    decimal: parts.find((p) => p.type === 'decimal')?.value ?? '.',
    group: parts.find((p) => p.type === 'group')?.value ?? ',',
  };
}

/** A stored number as the editor shows it: "1234,5" (de-DE), "1234.5" (en-US); no grouping, so it reads back. */
export function formatNumberInput(n: number, loc = locale): string {
  const s = String(n);
  return /e/i.test(s) ? s : s.replace('.', symbols(loc).decimal);
}

/**
 * A typed number, or null. Takes the locale's decimal mark and thousands
 * groups ("1.234,5" in de-DE, "1,234.5" in en-US), a point always, and a
 * lone comma as a decimal mark ("1,5") where it cannot be a group.
 */
export function parseNumberInput(text: string, loc = locale): number | null {
  let t = text.trim().replace(/[\s\u00a0\u202f'’]/g, '').replace(/^[−–]/, '-');
  if (t === '') return null;
  const { decimal } = symbols(loc);
  if (decimal === ',') {
    if (/^[-+]?\d{1,3}(\.\d{3})+(,\d+)?$/.test(t)) t = t.replace(/\./g, '');
    if (/^[-+]?\d*,\d+$/.test(t)) t = t.replace(',', '.');
  } else {
    if (/^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$/.test(t)) t = t.replace(/,/g, '');
    else if (/^[-+]?\d*,\d+$/.test(t)) t = t.replace(',', '.');
  }
  if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t)) return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Whether `s` is a real calendar date written YYYY-MM-DD. */
export function isIsoDate(s: string): boolean {
  const m = ISO_DATE.exec(s);
  if (!m) return false;
  return realDate(Number(m[1]), Number(m[2]), Number(m[3]));
}

function realDate(y: number, m: number, d: number): boolean {
  const date = new Date(Date.UTC(y, m - 1, d));
  // Date.UTC maps years 0–99 to 1900–1999; setUTCFullYear does not.
  date.setUTCFullYear(y);
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/** A calendar date (YYYY-MM-DD) in words: "Dec 31, 2026" (en-US), "31.12.2026" (de-DE). Not a date: as given. */
export function date(iso: string, loc = locale): string {
  if (!isIsoDate(iso)) return iso;
  // A calendar date has no time zone: format it as midnight UTC, in UTC.
  return dateFormat(loc, { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(`${iso}T00:00:00Z`));
}

/** An instant (ms, Date or RFC 3339) as a local date and time: "Dec 31, 2026, 9:30 AM". */
export function dateTime(t: number | Date | string, loc = locale): string {
  const d = t instanceof Date ? t : new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  return dateFormat(loc, { dateStyle: 'medium', timeStyle: 'short' }).format(d);
}

/** A day of this year, short: "Mar 4" (en-US), "4. März" (de-DE). */
export function dayMonth(d: Date, loc = locale): string {
  return dateFormat(loc, { month: 'short', day: 'numeric' }).format(d);
}

/** A day in another year: "Mar 4, 2025". */
export function dayMonthYear(d: Date, loc = locale): string {
  return dateFormat(loc, { year: 'numeric', month: 'short', day: 'numeric' }).format(d);
}

/** A full date and time, for tooltips: "Friday, December 4, 2026 at 3:05 PM". */
export function fullDateTime(d: Date, loc = locale): string {
  return dateFormat(loc, { dateStyle: 'full', timeStyle: 'short' }).format(d);
}

// ---- Dates typed into the editor ----------------------------------------

type Part = 'day' | 'month' | 'year';

export interface DateForm {
  /** The order the locale writes a short numeric date in. */
  order: Part[];
  /** What goes between the parts: ".", "/", "-". */
  sep: string;
  /** A trailing mark some locales end with (ko: "2026. 12. 31."). */
  end: string;
  /** The form in words for a placeholder: "dd.mm.yyyy". */
  placeholder: string;
}

const forms = new Map<string, DateForm>();

/** How `loc` writes a date with digits: the order of day, month and year and the separator. */
export function dateForm(loc = locale): DateForm {
  let form = forms.get(loc);
  if (form) return form;
  const parts = dateFormat(loc, { year: 'numeric', month: '2-digit', day: '2-digit', timeZone: 'UTC', numberingSystem: 'latn', calendar: 'gregory' })
    .formatToParts(new Date(Date.UTC(2026, 11, 31)));
  const order = parts.filter((p): p is Intl.DateTimeFormatPart & { type: Part } => p.type === 'day' || p.type === 'month' || p.type === 'year').map((p) => p.type);
  const between = parts.find((p, i) => p.type === 'literal' && i > 0 && i < parts.length - 1)?.value ?? '/';
  // Keep the separator plain: "31.12.2026", never a stray space or bidi mark.
  const sep = between.replace(/[\s\u200e\u200f]/g, '') || '/';
  const last = parts.at(-1);
  const end = last?.type === 'literal' ? last.value.trim() : '';
  const ok = order.length === 3 && new Set(order).size === 3;
  const finalOrder: Part[] = ok ? order : ['year', 'month', 'day'];
  const finalSep = ok ? sep : '-';
  const finalEnd = ok ? end : '';
  const words: Record<Part, string> = { day: 'dd', month: 'mm', year: 'yyyy' };
  form = {
    order: finalOrder,
    sep: finalSep,
    end: finalEnd,
    placeholder: finalOrder.map((p) => words[p]).join(finalSep) + finalEnd,
  };
  forms.set(loc, form);
  return form;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** A stored date (YYYY-MM-DD) as the editor shows it: "31.12.2026" (de-DE). Not a date: as given. */
export function formatDateInput(iso: string, loc = locale): string {
  const m = ISO_DATE.exec(iso);
  if (!m || !isIsoDate(iso)) return iso;
  const value: Record<Part, string> = { year: m[1]!, month: m[2]!, day: m[3]! };
  const form = dateForm(loc);
  return form.order.map((p) => value[p]).join(form.sep) + form.end;
}

/** An example date in the locale's form, for messages: "31.12.2026". */
export function dateExample(loc = locale): string {
  return formatDateInput('2026-12-31', loc);
}

/**
 * A typed date as YYYY-MM-DD, or null when it is not a real date. Takes the
 * locale's form ("31.12.2026", "31.12.26" is not taken: which century?) with
 * any of . / - or space between the parts, and ISO (2026-12-31) always.
 */
export function parseDateInput(text: string, loc = locale): string | null {
  const t = text.trim().replace(/\.$/, '');
  if (!/^\d{1,4}(?:\s*[./-]\s*|\s+)\d{1,4}(?:\s*[./-]\s*|\s+)\d{1,4}$/.test(t)) return null;
  const nums = t.match(/\d+/g)!;
  // Four digits first is ISO order whatever the locale.
  const order: Part[] = nums[0]!.length === 4 ? ['year', 'month', 'day'] : dateForm(loc).order;
  const got = {} as Record<Part, string>;
  order.forEach((p, i) => (got[p] = nums[i]!));
  if (got.year.length !== 4 || got.month.length > 2 || got.day.length > 2) return null;
  const [y, m, d] = [Number(got.year), Number(got.month), Number(got.day)];
  if (!realDate(y, m, d)) return null;
  return `${pad(y, 4)}-${pad(m)}-${pad(d)}`;
}

// ---- Times typed into the editor (datetime fields, local time) ----------

interface TimeForm {
  /** The locale writes 12-hour times ("9:30 AM"). */
  h12: boolean;
  am: string;
  pm: string;
}

const timeForms = new Map<string, TimeForm>();

function timeForm(loc = locale): TimeForm {
  let form = timeForms.get(loc);
  if (form) return form;
  const f = dateFormat(loc, { hour: 'numeric', minute: '2-digit', timeZone: 'UTC', numberingSystem: 'latn' });
  const h12 = f.resolvedOptions().hour12 === true;
  const period = (h: number) => f.formatToParts(new Date(Date.UTC(2026, 0, 1, h))).find((p) => p.type === 'dayPeriod')?.value ?? '';
  form = { h12, am: period(9) || 'AM', pm: period(21) || 'PM' };
  timeForms.set(loc, form);
  return form;
}

/** The placeholder of a date-and-time input: "dd.mm.yyyy hh:mm" (de-DE), "mm/dd/yyyy h:mm AM" (en-US). */
export function dateTimePlaceholder(loc = locale): string {
  const t = timeForm(loc);
  return `${dateForm(loc).placeholder} ${t.h12 ? `h:mm ${t.am}` : 'hh:mm'}`;
}

/** An example date and time, for messages: "31.12.2026 09:30" (de-DE), "12/31/2026 9:30 AM" (en-US). */
export function dateTimeExample(loc = locale): string {
  const t = timeForm(loc);
  return `${dateExample(loc)} ${t.h12 ? `9:30 ${t.am}` : '09:30'}`;
}

/** An instant (RFC 3339) as the editor shows it, in local time: "31.12.2026 09:30". Not a time: ''. */
export function formatDateTimeInput(rfc3339: string, loc = locale): string {
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return '';
  const day = formatDateInput(`${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`, loc);
  const t = timeForm(loc);
  const h = d.getHours();
  const secs = d.getSeconds() ? `:${pad(d.getSeconds())}` : '';
  const time = t.h12
    ? `${h % 12 || 12}:${pad(d.getMinutes())}${secs} ${h < 12 ? t.am : t.pm}`
    : `${pad(h)}:${pad(d.getMinutes())}${secs}`;
  return `${day} ${time}`;
}

/**
 * A typed local date and time as RFC 3339 UTC, or null when it is not a real
 * one. The date as parseDateInput takes it; the time 24-hour ("21:30") or
 * 12-hour with AM/PM in any locale; ISO ("2026-12-31T21:30") always.
 */
export function parseDateTimeInput(text: string, loc = locale): string | null {
  const t = text.trim();
  const m = /^(.+?)(?:\s*,\s*|\s+|T)(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*(\S.*)?$/i.exec(t);
  if (!m) return null;
  const day = parseDateInput(m[1]!, loc);
  if (!day) return null;
  let h = Number(m[2]);
  const mi = Number(m[3]);
  const s = Number(m[4] ?? 0);
  const period = (m[5] ?? '').replace(/\./g, '').toLowerCase();
  if (period) {
    const form = timeForm(loc);
    const isAm = period === 'am' || period === form.am.replace(/\./g, '').toLowerCase();
    const isPm = period === 'pm' || period === form.pm.replace(/\./g, '').toLowerCase();
    if ((!isAm && !isPm) || h < 1 || h > 12) return null;
    h = (h % 12) + (isPm ? 12 : 0);
  }
  if (h > 23 || mi > 59 || s > 59) return null;
  const [y, mo, d] = day.split('-').map(Number) as [number, number, number];
  const local = new Date(y, mo - 1, d, h, mi, s);
  local.setFullYear(y);
  // A time skipped by a daylight-saving change does not exist.
  if (local.getHours() !== h || local.getDate() !== d) return null;
  return local.toISOString();
}

// From what the user picked in the conflict dialog to a ResolutionInput.
import { parseDraft, type Draft } from './fields';
import { mergedText, type PartPicks } from './textmerge';
import type { Conflict, Field, FieldChoiceInput, ResolutionInput } from './types';

/**
 * The user's pick for one conflicting field. `parts` is for a field the
 * server merged as text: a choice per clashing part, or the result as the
 * user typed it (`text`), which then wins.
 */
export type Pick =
  | { take: 'mine' }
  | { take: 'theirs' }
  | { take: 'edit'; draft: Draft }
  | { take: 'parts'; parts: PartPicks; text: string | null };

export const OPEN_PARTS = 'Choose mine, theirs or both for each clashing part, or edit the text';

export type Built = { ok: true; resolution: ResolutionInput } | { ok: false; errors: Record<string, string> };

/**
 * A per-field resolution. Every conflicting field needs a pick; an edited
 * value must be valid for its field.
 */
export function buildFieldResolution(conflict: Conflict, fields: readonly Field[], picks: Record<string, Pick | undefined>): Built {
  const choices: FieldChoiceInput[] = [];
  const errors: Record<string, string> = {};
  for (const name of conflict.fields) {
    const pick = picks[name];
    const parts = conflict.parts?.[name];
    if (parts && (!pick || pick.take === 'parts')) {
      const text = pick?.text ?? mergedText(parts, pick?.parts ?? []);
      if (text === null) {
        errors[name] = OPEN_PARTS;
        continue;
      }
      const field = fields.find((f) => f.name === name);
      const parsed = field ? parseDraft(field, text) : { ok: true as const, value: text };
      if (!parsed.ok) errors[name] = parsed.error;
      else choices.push({ field: name, choice: { take: 'value', value: parsed.value } });
      continue;
    }
    if (!pick || pick.take === 'parts') {
      errors[name] = 'Choose mine, theirs, or edit a value';
      continue;
    }
    if (pick.take === 'edit') {
      const field = fields.find((f) => f.name === name);
      if (!field) {
        errors[name] = 'This field is no longer in the schema';
        continue;
      }
      const parsed = parseDraft(field, pick.draft);
      if (!parsed.ok) errors[name] = parsed.error;
      else choices.push({ field: name, choice: { take: 'value', value: parsed.value } });
    } else {
      choices.push({ field: name, choice: { take: pick.take } });
    }
  }
  return Object.keys(errors).length ? { ok: false, errors } : { ok: true, resolution: { kind: 'fields', choices } };
}

/** The whole-record choices each conflict kind offers, in the dialog's words. */
export function deleteChoices(kind: Conflict['kind']): { label: string; testid: string; resolution: ResolutionInput; primary: boolean }[] {
  switch (kind) {
    case 'edit_delete':
      return [
        { label: 'Restore with my changes', testid: 'restore', resolution: { kind: 'restore' }, primary: true },
        { label: 'Accept deletion', testid: 'accept-delete', resolution: { kind: 'accept_delete' }, primary: false },
      ];
    case 'delete_edit':
      return [
        { label: 'Keep their version', testid: 'restore', resolution: { kind: 'restore' }, primary: true },
        { label: 'Delete anyway', testid: 'accept-delete', resolution: { kind: 'mine' }, primary: false },
      ];
    default:
      return [];
  }
}

// The console's collection editor helpers: the names the server takes, the
// type changes it allows, and what an edit changes (nothing: nothing sent).
import { describe, expect, it } from 'vitest';
import {
  cloneSpec, droppedOptions, editSummary, labelFromName, missingSentence, migrationWords, nameProblem, newlyRequired, optionProblem,
  parseOptions, sameSpec, typeTargets,
} from '../admin/schema';
import type { CollectionSpec } from '../admin/types';

const tasks: CollectionSpec = {
  name: 'tasks',
  label: 'Tasks',
  title_field: 'title',
  policy: 'manual',
  fields: [
    { name: 'title', label: 'Title', type: 'text', required: true },
    { name: 'status', label: 'Status', type: 'choice', required: false, options: ['todo', 'done'] },
    { name: 'due', label: 'Due', type: 'date', required: false },
    { name: 'region', label: 'Region', type: 'choice', required: false, options: ['north'] },
    { name: 'files', label: 'Files', type: 'file', required: false },
  ],
  partition_by: 'region',
};

describe('names, labels and options', () => {
  it('takes the names the server takes', () => {
    expect(nameProblem('place', 'field')).toBeNull();
    expect(nameProblem('a_1', 'collection')).toBeNull();
    expect(nameProblem('', 'field')).toBe('Enter a field name.');
    expect(nameProblem('Place', 'field')).toMatch(/starts with a lowercase letter/);
    expect(nameProblem('1a', 'collection')).toMatch(/starts with a lowercase letter/);
    expect(nameProblem('a-b', 'field')).toBe('Use only lowercase letters (a–z), digits and “_”.');
    expect(nameProblem('a'.repeat(65), 'field')).toMatch(/at most 64/);
    expect(nameProblem('status', 'field', ['title', 'status'])).toBe('There is already a field “status”.');
  });

  it('reads options separated by commas, once each', () => {
    expect(parseOptions(' call, visit,, visit ,')).toEqual(['call', 'visit']);
    expect(optionProblem(' ', [])).toBe('Enter an option.');
    expect(optionProblem('done', ['todo', 'done'])).toBe('“done” is already an option.');
    expect(optionProblem('waiting', ['todo'])).toBeNull();
    expect(labelFromName('due_date')).toBe('Due date');
  });
});

describe('type changes', () => {
  const field = (name: string) => tasks.fields.find((f) => f.name === name)!;
  it('offers what the server converts: to text from any plain type, from text to a number, a date or tags', () => {
    expect(typeTargets(field('title'), tasks)).toEqual(['longtext', 'number', 'date', 'tags']);
    expect(typeTargets(field('due'), tasks)).toEqual(['text', 'longtext']);
    expect(typeTargets(field('files'), tasks)).toEqual([]);
  });

  it('keeps a partition field text', () => {
    expect(typeTargets(field('region'), tasks)).toEqual(['text']);
  });
});

describe('what an edit changes', () => {
  it('is nothing for a copy', () => {
    const copy = cloneSpec(tasks);
    expect(sameSpec(copy, tasks)).toBe(true);
    expect(editSummary(tasks, copy)).toEqual([]);
    copy.fields[0]!.label = 'Name';
    expect(tasks.fields[0]!.label).toBe('Title');
  });

  it('lists labels, policy, new fields and options, required and order', () => {
    const next = cloneSpec(tasks);
    next.label = 'Jobs';
    next.policy = 'newest_wins';
    next.fields[1]!.options = ['todo', 'waiting'];
    next.fields[2]!.required = true;
    next.fields.push({ name: 'place', label: 'Place', type: 'text', required: false });
    [next.fields[0], next.fields[2]] = [next.fields[2]!, next.fields[0]!];
    expect(editSummary(tasks, next)).toEqual([
      'Label: “Tasks” → “Jobs”',
      'Edits of the same field: The newest wins',
      'Due: required',
      'Status: new option “waiting”',
      'Status: option “done” dropped',
      'New field Place (place, text)',
      'Order of the fields',
    ]);
    expect(newlyRequired(tasks, next).map((r) => [r.field.name, r.isNew])).toEqual([['due', false]]);
    expect(droppedOptions(tasks, next).map((d) => [d.field.name, d.options])).toEqual([['status', ['done']]]);
  });

  it('counts a new required field as new', () => {
    const next = cloneSpec(tasks);
    next.fields.push({ name: 'zone', label: 'Zone', type: 'text', required: true });
    expect(newlyRequired(tasks, next).map((r) => [r.field.name, r.isNew])).toEqual([['zone', true]]);
  });

  it('says how many records are in the way', () => {
    expect(missingSentence(20, 2314)).toBe('20 of 2,314 records have no value — they must get one first');
  });

  it('names a migration in words', () => {
    expect(migrationWords({ kind: 'rename_field', field: 'status', to: 'state' }, tasks)).toBe('Renaming Status (status) to “state”');
    expect(migrationWords({ kind: 'remove_field', field: 'gone' })).toBe('Removing gone');
    expect(migrationWords({ kind: 'change_type', field: 'title', to: 'longtext' }, tasks)).toBe('Changing Title (title) to long text');
  });
});

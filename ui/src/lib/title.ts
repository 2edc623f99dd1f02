// The window's title: the account and what is on screen, so two windows
// (two profiles) are told apart in the task switcher.
import type { View } from './app.svelte';

export function windowTitle(username: string | null, view: View, label: (collection: string) => string | null): string {
  if (!username) return 'Ferry';
  const names = { conflicts: 'Conflicts', outbox: 'Outbox', settings: 'Settings' } as const;
  const shown = view.kind === 'collection' ? label(view.name) : names[view.kind];
  return shown ? `Ferry — ${username} — ${shown}` : `Ferry — ${username}`;
}

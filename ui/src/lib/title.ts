// The window's title: the account and what is on screen, so two windows
// (two profiles) are told apart in the task switcher.
import type { View } from './app.svelte';

export function windowTitle(username: string | null, view: View, label: (collection: string) => string | null): string {
  if (!username) return 'Ferry';
  const shown = view.kind === 'conflicts' ? 'Conflicts' : view.kind === 'outbox' ? 'Outbox' : label(view.name);
  return shown ? `Ferry — ${username} — ${shown}` : `Ferry — ${username}`;
}

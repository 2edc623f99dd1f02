// What the server accepts, checked in the forms before anything is sent.

/** Why `name` cannot be a username, or null when it can. */
export function usernameProblem(name: string): string | null {
  if (name === '') return 'Enter a username.';
  if (name.length > 64) return 'A username has at most 64 characters.';
  if (!/^[a-z]/.test(name)) return 'A username starts with a lowercase letter.';
  if (!/^[a-z0-9._-]+$/.test(name)) return 'Use only lowercase letters, digits, “.”, “_” and “-”.';
  return null;
}

export const MIN_PASSWORD = 8;

/** Why `password` cannot be a password, or null when it can. */
export function passwordProblem(password: string): string | null {
  if (password === '') return 'Enter a password.';
  if ([...password].length < MIN_PASSWORD) return `A password has at least ${MIN_PASSWORD} characters.`;
  return null;
}

/** Why `name` cannot name a team, or null (the server has the last word). */
export function teamProblem(name: string): string | null {
  if (name.trim() === '') return 'Enter a team name.';
  if (name.length > 64) return 'A team name has at most 64 characters.';
  return null;
}

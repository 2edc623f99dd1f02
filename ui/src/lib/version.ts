/**
 * The label shown under the app name: "Version 1.2.3", or an empty string when
 * the version is unknown (e.g. the UI runs in a plain browser, outside Tauri).
 */
export function versionLabel(version: string | null | undefined): string {
  const trimmed = version?.trim() ?? '';
  if (trimmed === '') {
    return '';
  }
  return `Version ${trimmed.replace(/^v/i, '')}`;
}

// The API key lives in sessionStorage only: it is gone when the tab closes, never written to disk by
// the dashboard, and not shared with other tabs (issue 7).
const KEY = 'ferry.apiKey';

export const session = {
  key(): string | null {
    return sessionStorage.getItem(KEY);
  },
  setKey(key: string): void {
    sessionStorage.setItem(KEY, key);
  },
  clear(): void {
    sessionStorage.removeItem(KEY);
  },
};

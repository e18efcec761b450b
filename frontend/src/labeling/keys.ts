// Keyboard behaviour of the labeling pages (the guide's shortcuts), as pure functions of the key pressed.

export type KeyAction =
  | { kind: 'prev' }
  | { kind: 'next' }
  | { kind: 'toggle'; label: string }
  | { kind: 'set'; label: string }
  | { kind: 'play' }
  | { kind: 'delete' }
  | { kind: 'zoom'; by: number }
  | null;

export interface ShortcutLabel {
  name: string;
  shortcut?: string | null;
}

/** Keys typed into a form field are the field's, never a labeling command. */
export function isTypingTarget(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el || !el.tagName) return false;
  const tag = el.tagName.toLowerCase();
  if (tag === 'textarea' || tag === 'select' || el.isContentEditable) return true;
  if (tag !== 'input') return false;
  const type = ((el as HTMLInputElement).type || 'text').toLowerCase();
  return !['checkbox', 'radio', 'button', 'submit', 'range'].includes(type);
}

/** Number key n (1–9, 0 for the 10th) names the n-th label. */
function numbered(key: string, labels: readonly ShortcutLabel[]): string | null {
  if (!/^[0-9]$/.test(key)) return null;
  const index = key === '0' ? 9 : Number(key) - 1;
  return labels[index]?.name ?? null;
}

/** Image classification: ←/→ move between images, number keys toggle labels (several per image). */
export function imageClassificationKey(key: string, labels: readonly ShortcutLabel[]): KeyAction {
  if (key === 'ArrowLeft') return { kind: 'prev' };
  if (key === 'ArrowRight') return { kind: 'next' };
  const label = numbered(key, labels);
  return label ? { kind: 'toggle', label } : null;
}

/** Object detection: ←/→ move between images, Delete removes the selected box, +/− zoom. */
export function detectionKey(key: string): KeyAction {
  if (key === 'ArrowLeft') return { kind: 'prev' };
  if (key === 'ArrowRight') return { kind: 'next' };
  if (key === 'Delete' || key === 'Backspace') return { kind: 'delete' };
  if (key === '+' || key === '=') return { kind: 'zoom', by: 1.25 };
  if (key === '-') return { kind: 'zoom', by: 0.8 };
  return null;
}

/** Sound: a label's shortcut key labels the sound (one label), Space plays, ←/→ move. */
export function soundKey(key: string, labels: readonly ShortcutLabel[]): KeyAction {
  if (key === 'ArrowLeft' || key === 'ArrowUp') return { kind: 'prev' };
  if (key === 'ArrowRight' || key === 'ArrowDown') return { kind: 'next' };
  if (key === ' ') return { kind: 'play' };
  const hit = labels.find((l) => l.shortcut && l.shortcut.toLowerCase() === key.toLowerCase());
  return hit ? { kind: 'set', label: hit.name } : null;
}

/** Text: ↑/↓ move between lines, number keys set the line's one label. */
export function textKey(key: string, labels: readonly ShortcutLabel[]): KeyAction {
  if (key === 'ArrowUp') return { kind: 'prev' };
  if (key === 'ArrowDown') return { kind: 'next' };
  const label = numbered(key, labels);
  return label ? { kind: 'set', label } : null;
}

export function toggleLabel(current: readonly string[], label: string): string[] {
  return current.includes(label) ? current.filter((l) => l !== label) : [...current, label].sort();
}

/** The next index within [0, count), or null past either end (the page changes then). */
export function step(index: number, action: KeyAction, count: number): number | null {
  if (action?.kind === 'prev') return index > 0 ? index - 1 : null;
  if (action?.kind === 'next') return index < count - 1 ? index + 1 : null;
  return index;
}

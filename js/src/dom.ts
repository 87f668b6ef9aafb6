/**
 * Small DOM helpers of the panel and the recipe dialogs. Every piece of workspace data
 * goes in as `textContent` (never HTML).
 */

/** A new element with an optional class and text. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string | number | null
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined && text !== null) {
    node.textContent = String(text);
  }
  return node;
}

/** A small button that runs `onClick` (errors are the caller's). */
export function button(label: string, className: string, onClick: () => void, title?: string): HTMLButtonElement {
  const node = el('button', `jp-Button jp-mod-minimal jp-mod-small cvops-panel-button ${className}`, label);
  node.type = 'button';
  if (title) {
    node.title = title;
  }
  node.addEventListener('click', event => {
    event.preventDefault();
    event.stopPropagation();
    onClick();
  });
  return node;
}

/** The first 12 characters of an id (content hashes are long). */
export function short(id: unknown): string {
  return typeof id === 'string' ? id.slice(0, 12) : '-';
}

/** `2026-03-01T08:00:00+00:00` as `2026-03-01 08:00` (local time); anything else as is. */
export function when(value: unknown): string {
  if (typeof value !== 'string') {
    return '-';
  }
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    return value;
  }
  const pad = (n: number): string => String(n).padStart(2, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}

/** A value as short text: numbers rounded to 4 significant digits, lists joined, objects as k=v. */
export function text(value: unknown): string {
  if (value === null || value === undefined) {
    return '-';
  }
  if (typeof value === 'number') {
    return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
  }
  if (Array.isArray(value)) {
    return value.map(text).join(', ');
  }
  if (typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${k}=${text(v)}`)
      .join(', ');
  }
  return String(value);
}

/** A Python string literal for `value` (JSON string escapes are valid Python escapes). */
export function py(value: string): string {
  return JSON.stringify(value);
}

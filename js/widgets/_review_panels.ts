// The review widget's side panel and filter bar: the annotators (visibility toggle, dash,
// verdict, majority), the decision, the class definitions with their keys, the filter
// selects. Functions of the kernel's state; the view wires their callbacks.
import { DASHES, NEUTRAL, h, s, type ClassInfo, type Item } from './_review_common';

export function colorMap(classes: ClassInfo[] | null | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const c of classes ?? []) {
    out.set(c.name, c.color);
  }
  return out;
}

/** An annotator's place among all annotators: the same dash and label corner on every image. */
export function annotatorOrder(options: { annotators?: string[] } | null | undefined, name: string, fallback: number): number {
  const all = (options ?? {}).annotators ?? [];
  const i = all.indexOf(name);
  return i >= 0 ? i : fallback;
}

function chip(name: string, colors: Map<string, string>): HTMLSpanElement {
  const chip = h('span', 'cvops-review-chip', name);
  chip.style.setProperty('--cvops-chip', colors.get(name) ?? NEUTRAL);
  return chip;
}

export function renderAnnotators(
  list: HTMLElement,
  item: Item | null,
  hidden: Set<string>,
  colors: Map<string, string>,
  annotatorOrder: (name: string, fallback: number) => number,
  onToggle: (name: string, visible: boolean) => void
): void {
  list.replaceChildren();
  if (!item) {
    return;
  }
  item.annotators.forEach((ann, j) => {
    const i = annotatorOrder(ann.name, j);
    const row = h('label', 'cvops-review-annotator');
    row.dataset.annotator = ann.name;
    const toggle = h('input');
    toggle.type = 'checkbox';
    toggle.checked = !hidden.has(ann.name);
    toggle.title = `Show ${ann.name}'s boxes`;
    toggle.addEventListener('change', () => onToggle(ann.name, toggle.checked));
    const dash = s('svg', { class: 'cvops-review-dash', viewBox: '0 0 28 6' });
    dash.append(
      s('line', { x1: 1, y1: 3, x2: 27, y2: 3, 'stroke-dasharray': DASHES[i % DASHES.length] })
    );
    const name = h('span', 'cvops-review-annotator-name', ann.name);
    const verdict = h('span', 'cvops-review-verdict');
    const classes = ann.image_classes.length ? ann.image_classes : null;
    if (classes) {
      for (const c of classes) {
        verdict.append(chip(c, colors));
      }
    } else {
      verdict.append(h('span', 'cvops-review-verdict-text', ann.verdict));
    }
    if (ann.boxes.length) {
      verdict.append(h('span', 'cvops-review-nboxes', `${ann.boxes.length} box${ann.boxes.length > 1 ? 'es' : ''}`));
    }
    row.append(toggle, dash, name, verdict);
    if (ann.in_majority) {
      row.append(h('span', 'cvops-review-majority', 'majority'));
    }
    list.append(row);
  });
}

export function renderDecision(box: HTMLElement, item: Item): void {
  box.replaceChildren();
  const state = item.state;
  if (!state) {
    box.append(h('span', 'cvops-review-undecided', "none yet: the annotators' labels stand"));
    return;
  }
  const text = h('span', `cvops-review-state cvops-review-state-${state.decision}`, state.label);
  box.append(text);
  if (state.reviewer) {
    box.append(h('span', 'cvops-review-by', ` by ${state.reviewer}`));
  }
}

export function renderClasses(list: HTMLElement, classes: ClassInfo[] | null | undefined, onPick: (name: string) => void): void {
  list.replaceChildren();
  for (const c of classes ?? []) {
    const li = h('li', 'cvops-review-class');
    li.dataset.className = c.name;
    const key = h('kbd', 'cvops-review-key', c.key === null ? '' : String(c.key));
    const swatch = h('span', 'cvops-review-swatch');
    swatch.style.background = c.color;
    const name = h('span', 'cvops-review-class-name', c.name);
    const def = h('div', 'cvops-review-definition', c.definition);
    li.append(key, swatch, name, def);
    if (c.key !== null) {
      li.title = `Press ${c.key} (or click) to set "${c.name}"`;
      li.addEventListener('click', () => onPick(c.name));
    }
    list.append(li);
  }
}

export function renderFilters(
  classSelect: HTMLSelectElement,
  annotatorSelect: HTMLSelectElement,
  disputedBox: HTMLInputElement,
  options: { classes?: string[]; annotators?: string[] },
  filters: Record<string, unknown>
): void {
  const fill = (select: HTMLSelectElement, all: string, values: string[], current: string): void => {
    select.replaceChildren();
    const first = h('option', '', all);
    first.value = '';
    select.append(first);
    for (const v of values) {
      const o = h('option', '', v);
      o.value = v;
      select.append(o);
    }
    select.value = values.includes(current) ? current : '';
  };
  fill(classSelect, 'any class', options.classes ?? [], String(filters.class_name ?? ''));
  fill(annotatorSelect, 'any annotator', options.annotators ?? [], String(filters.annotator ?? ''));
  disputedBox.checked = Boolean(filters.disputed_only);
}

// The review widget's DOM: the progress and filter bar, the image stage with its buttons, the
// annotator/decision/class side panel, the status line and the key legend. Built once; the
// view keeps the elements it updates.
import { h, s } from './_review_common';

export interface ReviewDom {
  root: HTMLDivElement;
  canvas: HTMLCanvasElement;
  svg: SVGSVGElement;
  frame: HTMLDivElement;
  placeholder: HTMLDivElement;
  progressText: HTMLSpanElement;
  progressBar: HTMLDivElement;
  statusLine: HTMLDivElement;
  caption: HTMLDivElement;
  annotatorList: HTMLDivElement;
  decisionBox: HTMLDivElement;
  classList: HTMLOListElement;
  classSelect: HTMLSelectElement;
  annotatorSelect: HTMLSelectElement;
  disputedBox: HTMLInputElement;
  undoButton: HTMLButtonElement;
}

/** What the buttons and the filter controls do (each button then refocuses the view). */
export interface ReviewActions {
  prev: () => void;
  next: () => void;
  accept: () => void;
  flag: () => void;
  undo: () => void;
  filtersChanged: () => void;
}

export function buildReviewDom(actions: ReviewActions): ReviewDom {
  const root = h('div', 'cvops-review');
  root.tabIndex = 0;
  root.setAttribute('role', 'application');
  root.setAttribute('aria-label', 'Label review: click, then use the keys listed below');

  const bar = h('div', 'cvops-review-bar');
  const progress = h('div', 'cvops-review-progress');
  const progressText = h('span', 'cvops-review-progress-text');
  const track = h('div', 'cvops-review-progress-track');
  const progressBar = h('div', 'cvops-review-progress-fill');
  track.append(progressBar);
  progress.append(progressText, track);

  const filters = h('div', 'cvops-review-filters');
  const classSelect = h('select', 'cvops-review-filter-class');
  classSelect.title = 'Only images where some annotator used this class';
  const annotatorSelect = h('select', 'cvops-review-filter-annotator');
  annotatorSelect.title = 'Only images this annotator labelled';
  const disputedLabel = h('label', 'cvops-review-filter-disputed');
  const disputedBox = h('input');
  disputedBox.type = 'checkbox';
  disputedLabel.append(disputedBox, document.createTextNode(' disputed only'));
  filters.append(classSelect, annotatorSelect, disputedLabel);
  for (const control of [classSelect, annotatorSelect, disputedBox]) {
    control.addEventListener('change', actions.filtersChanged);
  }
  bar.append(progress, filters);

  const main = h('div', 'cvops-review-main');
  const stage = h('div', 'cvops-review-stage');
  const frame = h('div', 'cvops-review-frame');
  const canvas = h('canvas', 'cvops-review-canvas');
  const svg = s('svg', { class: 'cvops-review-overlay', preserveAspectRatio: 'none' });
  const placeholder = h('div', 'cvops-review-placeholder', 'loading…');
  frame.append(canvas, svg, placeholder);
  const caption = h('div', 'cvops-review-caption');
  const nav = h('div', 'cvops-review-buttons');
  const button = (label: string, title: string, action: () => void): HTMLButtonElement => {
    const b = h('button', 'cvops-review-button', label);
    b.type = 'button';
    b.title = title;
    b.addEventListener('click', () => {
      action();
      root.focus({ preventScroll: true });
    });
    return b;
  };
  const undoButton = button('Undo (Z)', 'Undo the last decision of this session', actions.undo);
  nav.append(
    button('◀ Prev (K)', 'Previous image', actions.prev),
    button('Next (J) ▶', 'Next image', actions.next),
    button('Accept majority (A)', "Accept the majority annotators' labels", actions.accept),
    button('Flag (F)', 'Flag as a bad image', actions.flag),
    undoButton
  );
  stage.append(frame, caption, nav);

  const side = h('div', 'cvops-review-side');
  const annSection = h('section', 'cvops-review-section');
  annSection.append(h('h4', '', 'Annotators'));
  const annotatorList = h('div', 'cvops-review-annotators');
  annSection.append(annotatorList);
  const decSection = h('section', 'cvops-review-section');
  decSection.append(h('h4', '', 'Decision'));
  const decisionBox = h('div', 'cvops-review-decision');
  decSection.append(decisionBox);
  const clsSection = h('section', 'cvops-review-section');
  clsSection.append(h('h4', '', 'Classes'));
  const classList = h('ol', 'cvops-review-classes');
  clsSection.append(classList);
  side.append(annSection, decSection, clsSection);
  main.append(stage, side);

  const statusLine = h('div', 'cvops-review-status');
  statusLine.setAttribute('aria-live', 'polite');
  const keys = h(
    'div',
    'cvops-review-keys',
    '1–9 set class · A accept majority · F flag · J/K or arrows navigate · Z undo'
  );
  const hint = h('span', 'cvops-review-focus-hint', 'click here to use the keys');
  keys.append(hint);
  root.append(bar, main, statusLine, keys);
  return {
    root,
    canvas,
    svg,
    frame,
    placeholder,
    progressText,
    progressBar,
    statusLine,
    caption,
    annotatorList,
    decisionBox,
    classList,
    classSelect,
    annotatorSelect,
    disputedBox,
    undoButton
  };
}

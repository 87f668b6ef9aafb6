/**
 * DOM for the compact snapshot card. Built with `textContent` only: the
 * payload comes from a kernel and is never interpreted as HTML.
 */
import { CARD_CLASS } from './tokens';
import { type ISnapshot, type ISplitCounts, shortId } from './snapshot';

const COUNT_FORMAT = new Intl.NumberFormat('en-US');
const SPLIT_ORDER = ['train', 'val', 'test'];

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/** `train 21 · val 6 · test 3`, known splits first, then any others by name. */
export function formatSplits(splits: ISplitCounts): string {
  const extra = Object.keys(splits)
    .filter(key => !SPLIT_ORDER.includes(key))
    .sort();
  return [...SPLIT_ORDER, ...extra]
    .map(key => `${key} ${COUNT_FORMAT.format(splits[key] ?? 0)}`)
    .join(' · ');
}

/** `2026-11-29 14:03:07 UTC` for a parseable ISO time, else the input unchanged. */
export function formatCreated(iso: string): string {
  const time = Date.parse(iso);
  if (Number.isNaN(time)) {
    return iso;
  }
  return new Date(time).toISOString().slice(0, 19).replace('T', ' ') + ' UTC';
}

/** Build the card for one snapshot. */
export function renderSnapshotCard(snapshot: ISnapshot): HTMLElement {
  const dv = snapshot.dataset_version;
  const root = el('div', CARD_CLASS);
  root.dataset.versionId = dv.id;
  root.dataset.runId = snapshot.run_id;
  root.setAttribute('role', 'group');
  root.setAttribute('aria-label', `Dataset snapshot ${dv.name ?? shortId(dv.id)}`);

  const header = el('div', `${CARD_CLASS}-header`);
  header.append(
    el('span', `${CARD_CLASS}-kind`, 'Dataset snapshot'),
    el('span', `${CARD_CLASS}-name`, dv.name ?? '(unnamed)')
  );
  const id = el('code', `${CARD_CLASS}-id`, shortId(dv.id));
  id.title = dv.id;
  header.append(id);
  root.append(header);

  if (dv.message) {
    root.append(el('div', `${CARD_CLASS}-message`, dv.message));
  }

  const facts = el('dl', `${CARD_CLASS}-facts`);
  const add = (field: string, label: string, value: string, title?: string): void => {
    const dd = el('dd', '', value);
    dd.dataset.field = field;
    if (title) {
      dd.title = title;
    }
    facts.append(el('dt', '', label), dd);
  };
  add('images', 'Images', COUNT_FORMAT.format(dv.n_images));
  add('labels', 'Labels', COUNT_FORMAT.format(dv.n_labels));
  add('splits', 'Splits', formatSplits(dv.splits));
  add('taxonomy', 'Taxonomy', `v${snapshot.taxonomy_version}`);
  add('workspace', 'Workspace', snapshot.workspace, snapshot.workspace);
  add('created', 'Created', formatCreated(snapshot.created_at), snapshot.created_at);
  root.append(facts);
  return root;
}

/** Shown instead of a card when the payload lacks its identifying fields. */
export function renderInvalidCard(): HTMLElement {
  return el(
    'div',
    `${CARD_CLASS}-invalid`,
    'cvops: this output is not a valid dataset snapshot (missing run_id or dataset_version.id).'
  );
}

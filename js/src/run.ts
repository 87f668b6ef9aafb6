/**
 * The run payload displayed by `ws.run(...)` cards (`application/vnd.cvops.run+json`):
 * its type, a validating parser and the compact card. Built with `textContent`
 * only: params, metric names and errors come from user code.
 */
import type { ReadonlyPartialJSONValue } from '@lumino/coreutils';

import { formatCreated } from './card';
import { shortId } from './snapshot';
import { CARD_CLASS, RUN_CARD_CLASS } from './tokens';

/** One dataset version a run used. */
export interface IRunInput {
  version_id: string;
  name: string | null;
  taxonomy_version: number | null;
}

/** Payload of the `application/vnd.cvops.run+json` MIME bundle (`Run.to_dict()`). */
export interface IRun {
  run_id: string;
  kind: string;
  name: string | null;
  status: string;
  user: string | null;
  started_at: string | null;
  duration_s: number | null;
  inputs: IRunInput[];
  params: Record<string, unknown>;
  metrics: Record<string, unknown>;
  metric_steps: Record<string, number>;
  error: string | null;
  environment_summary: string | null;
  git: { commit: string | null; dirty: boolean; branch: string | null; error: string | null };
  notebook: string | null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** Validate an untrusted payload; `null` without a `run_id`. */
export function parseRun(value: ReadonlyPartialJSONValue | undefined): IRun | null {
  if (!isObject(value) || typeof value['run_id'] !== 'string') {
    return null;
  }
  const inputs = Array.isArray(value['inputs']) ? value['inputs'] : [];
  const git = isObject(value['git']) ? value['git'] : {};
  const steps = isObject(value['metric_steps']) ? value['metric_steps'] : {};
  return {
    run_id: value['run_id'],
    kind: str(value['kind']) ?? 'run',
    name: str(value['name']),
    status: str(value['status']) ?? 'recorded',
    user: str(value['user']),
    started_at: str(value['started_at']),
    duration_s: num(value['duration_s']),
    inputs: inputs.filter(isObject).map(i => ({
      version_id: str(i['version_id']) ?? '?',
      name: str(i['name']),
      taxonomy_version: num(i['taxonomy_version'])
    })),
    params: isObject(value['params']) ? value['params'] : {},
    metrics: isObject(value['metrics']) ? value['metrics'] : {},
    metric_steps: Object.fromEntries(
      Object.entries(steps).filter((kv): kv is [string, number] => typeof kv[1] === 'number')
    ),
    error: str(value['error']),
    environment_summary: str(value['environment_summary']),
    git: {
      commit: str(git['commit']),
      dirty: git['dirty'] === true,
      branch: str(git['branch']),
      error: str(git['error'])
    },
    notebook: str(value['notebook'])
  };
}

/** `0.42 s`, `12.3 s`, `4 min 05 s`, `2 h 03 min` (as the Python card). */
export function formatDuration(seconds: number | null): string {
  if (seconds === null) {
    return '-';
  }
  if (seconds < 9.995) {
    return `${seconds.toFixed(2)} s`;
  }
  if (seconds < 59.95) {
    return `${seconds.toFixed(1)} s`;
  }
  const total = Math.round(seconds);
  if (total < 3600) {
    return `${Math.floor(total / 60)} min ${String(total % 60).padStart(2, '0')} s`;
  }
  return `${Math.floor(total / 3600)} h ${String(Math.floor((total % 3600) / 60)).padStart(2, '0')} min`;
}

function formatValue(value: unknown): string {
  if (typeof value === 'number') {
    return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function pairs(values: Record<string, unknown>, steps: Record<string, number> = {}): string {
  const out = Object.entries(values).map(
    ([k, v]) => `${k}=${formatValue(v)}` + (k in steps ? ` (step ${steps[k]})` : '')
  );
  return out.length ? out.join(', ') : '-';
}

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

/** Build the card for one run. */
export function renderRunCard(run: IRun): HTMLElement {
  const root = el('div', `${CARD_CLASS} ${RUN_CARD_CLASS}`);
  root.dataset.runId = run.run_id;
  root.dataset.status = run.status;
  root.setAttribute('role', 'group');
  root.setAttribute('aria-label', `Run ${run.name ?? shortId(run.run_id)} ${run.status}`);

  const header = el('div', `${CARD_CLASS}-header`);
  const verb: Record<string, string> = { running: 'running for', finished: 'finished in', failed: 'failed after' };
  const id = el('code', `${CARD_CLASS}-id`, shortId(run.run_id));
  id.title = run.run_id;
  header.append(
    el('span', `${CARD_CLASS}-kind`, run.kind === 'run' ? 'Run' : run.kind),
    el('span', `${CARD_CLASS}-name`, run.name ?? '(unnamed)'),
    el('span', `${RUN_CARD_CLASS}-status`, `${verb[run.status] ?? run.status} ${formatDuration(run.duration_s)}`),
    id
  );
  root.append(header);

  const facts = el('dl', `${CARD_CLASS}-facts`);
  const add = (field: string, label: string, value: string): void => {
    const dd = el('dd', '', value);
    dd.dataset.field = field;
    dd.title = value;
    facts.append(el('dt', '', label), dd);
  };
  const inputs = run.inputs.map(
    i =>
      (i.name ? `${i.name} (${shortId(i.version_id)})` : shortId(i.version_id)) +
      (i.taxonomy_version !== null ? `, taxonomy v${i.taxonomy_version}` : '')
  );
  add('inputs', 'Inputs', inputs.length ? inputs.join('; ') : '-');
  add('params', 'Params', pairs(run.params));
  add('metrics', 'Metrics', pairs(run.metrics, run.metric_steps));
  add('environment', 'Environment', run.environment_summary ?? '-');
  const git = run.git.commit
    ? shortId(run.git.commit) + (run.git.dirty ? ' (dirty)' : '') + (run.git.branch ? ` on ${run.git.branch}` : '')
    : run.git.error ?? '-';
  add('git', 'Git', git);
  if (run.notebook) {
    add('notebook', 'Notebook', run.notebook);
  }
  add('started', 'Started', run.started_at ? formatCreated(run.started_at) : '-');
  add('user', 'By', run.user ?? '?');
  if (run.error) {
    add('error', 'Error', run.error);
  }
  root.append(facts);
  return root;
}

/** Shown instead of a run card when the payload has no `run_id`. */
export function renderInvalidRunCard(): HTMLElement {
  return el('div', `${CARD_CLASS}-invalid`, 'cvops: this output is not a valid run (missing run_id).');
}

/**
 * The sections of the CV Ops side panel: dataset versions, taxonomy history, runs, models
 * (aliases and alias history), alerts and recipes. Each renderer builds one `<details>`
 * section from the workspace data; the panel (`CvopsPanel`) keeps the state and the
 * requests and lends the renderers the few builders and actions of `ISectionHost`.
 */
import { PathExt } from '@jupyterlab/coreutils';

import { button, el, py, short, text, when } from './dom';

export interface IVersion {
  id: string;
  name: string | null;
  names: string[] | null;
  message: string | null;
  author: string | null;
  created_at: string;
  taxonomy_version: number | null;
  n_images: number;
  n_labels: number;
}

export interface ITaxonomyEvent {
  version: number;
  created_at: string;
  author: string | null;
  message: string | null;
  n_classes: number | null;
  changes: string[] | null;
}

export interface IRun {
  run_id: string;
  kind: string;
  name: string;
  status: string;
  user: string | null;
  started_at: string | null;
  duration_s: number | null;
  input_names: string[] | null;
  error: string | null;
  params: Record<string, unknown>;
  metrics: Record<string, unknown>;
}

export interface IModel {
  model: string;
  version: string;
  aliases: string[] | null;
  created_at: string;
  author: string | null;
  framework: string | null;
  run_id: string | null;
}

export interface IAliasEvent {
  model: string;
  alias: string;
  action: string;
  version: string | null;
  previous_version: string | null;
  author: string | null;
  created_at: string;
  message: string | null;
}

export interface ICheck {
  check_id: string;
  kind: string;
  target: string;
  alert: boolean;
  summary: string | null;
  created_at: string;
}

export interface IRetrainDue {
  ref: string;
  result?: { due?: boolean; reasons?: string[]; version?: string };
  error?: string;
}

export interface IRecipe {
  recipe_id: string;
  name: string;
  path: string | null;
  location: string | null;
  created_at: string | null;
  author: string | null;
  check_ok?: boolean | null;
  checked_at?: string | null;
}

/** Everything the panel shows of one workspace. */
export interface IWorkspaceData {
  versions: IVersion[];
  taxonomy: { version: number; history: ITaxonomyEvent[] };
  runs: { total: number; runs: IRun[] };
  models: IModel[];
  history: IAliasEvent[];
  checks: { checks: ICheck[]; retrain_due: IRetrainDue[]; retrain_due_available: boolean };
  recipes: { available: boolean; recipes: IRecipe[] };
}

/** What the section renderers use of the panel. */
export interface ISectionHost {
  /** A collapsible section with a title and a count. */
  section(key: string, title: string, count: number | string, open?: boolean): HTMLElement;
  /** A list item with a title and one line per non-empty fact. */
  item(title: string, facts: string[], className?: string): HTMLElement;
  /** Append a row of buttons to `item`. */
  actions(item: HTMLElement, ...buttons: HTMLButtonElement[]): void;
  /** Insert `code` after the prelude that opens the workspace. */
  insert(code: string): void;
  /** Insert `code` as it is. */
  insertCell(code: string): boolean;
  /** Ask for a reason, then roll `model@alias` back. */
  rollback(model: string, alias: string, current: string | null): Promise<void>;
  /** `path` as seen from the current notebook's folder. */
  fromNotebook(path: string): string;
  /** Open `path` in JupyterLab. */
  openFile(path: string): void;
  /** Re-run the recipe as a background job on the server (`check`: the reproducibility test). */
  runRecipe(recipe: IRecipe, check: boolean): void;
  /** The box of the recipe's last job (progress, Cancel, result), or null. */
  jobBox(recipeId: string): HTMLElement | null;
}

/** Labels of the check kinds the alerts section shows. */
const KIND_LABELS: Record<string, string> = {
  agreement: 'Label agreement',
  label_drift: 'Label drift',
  input_drift: 'Input drift',
  skew: 'Training/serving skew',
  evaluation: 'Evaluation',
  shadow: 'Shadow',
  recipe: 'Recipe check'
};

/** At most this many runs are listed (newest first). */
const MAX_RUNS = 30;

export function renderVersions(host: ISectionHost, versions: IVersion[]): HTMLElement {
  const section = host.section('versions', 'Dataset versions', versions.length);
  const list = el('ul', 'cvops-panel-list');
  const ordered = [...versions].reverse(); // newest first
  ordered.forEach((v, i) => {
    const ref = v.name || v.id;
    const names = v.names && v.names.length > 1 ? `names: ${v.names.join(', ')}` : '';
    const item = host.item(v.name || short(v.id), [
      `${v.n_images} images · ${v.n_labels} labels · taxonomy v${text(v.taxonomy_version)}`,
      `${short(v.id)} · ${when(v.created_at)} · ${v.author ?? '-'}`,
      v.message ? `“${v.message}”` : '',
      names
    ]);
    item.dataset.version = v.id;
    const buttons = [
      button('Verify', 'cvops-panel-verify', () => host.insert(`ws.version(${py(ref)}).verify()`),
        'Insert a cell that re-checks every file of this version')
    ];
    const older = ordered[i + 1];
    if (older) {
      const oldRef = older.name || older.id;
      buttons.push(
        button('Diff', 'cvops-panel-diff', () => host.insert(`ws.version(${py(oldRef)}).diff(${py(ref)})`),
          `Insert a cell with the label diff from ${oldRef}`)
      );
    }
    host.actions(item, ...buttons);
    list.append(item);
  });
  if (!versions.length) {
    list.append(el('li', 'cvops-panel-empty', 'No dataset version yet (%cvops snapshot).'));
  }
  section.append(list);
  return section;
}

export function renderTaxonomy(host: ISectionHost, taxonomy: IWorkspaceData['taxonomy']): HTMLElement {
  const section = host.section('taxonomy', 'Taxonomy history', `v${taxonomy.version}`, false);
  const list = el('ul', 'cvops-panel-list');
  for (const h of [...taxonomy.history].reverse()) {
    list.append(
      host.item(`v${h.version}`, [
        `${when(h.created_at)} · ${h.author ?? '-'} · ${text(h.n_classes)} classes`,
        h.message ?? '',
        (h.changes ?? []).join('; ')
      ])
    );
  }
  if (!taxonomy.history.length) {
    list.append(el('li', 'cvops-panel-empty', 'No taxonomy version yet.'));
  }
  section.append(list);
  return section;
}

export function renderRuns(host: ISectionHost, runs: IWorkspaceData['runs']): HTMLElement {
  const own = runs.runs.filter(r => r.kind === 'run');
  const section = host.section('runs', 'Runs', own.length);
  const list = el('ul', 'cvops-panel-list');
  for (const r of own.slice(0, MAX_RUNS)) {
    const duration = r.duration_s !== null ? `${text(r.duration_s)} s` : '';
    const item = host.item(r.name, [
      [r.status, duration, when(r.started_at), r.user ?? ''].filter(Boolean).join(' · '),
      Object.keys(r.metrics).length ? `metrics: ${text(r.metrics)}` : '',
      Object.keys(r.params).length ? `params: ${text(r.params)}` : '',
      r.input_names && r.input_names.length ? `data: ${r.input_names.join(', ')}` : '',
      r.error ?? ''
    ], `cvops-panel-run cvops-status-${r.status}`);
    item.dataset.runId = r.run_id;
    item.dataset.status = r.status;
    host.actions(item, button('Card', 'cvops-panel-run-card', () => host.insert(`ws.get_run(${py(r.run_id)})`),
      'Insert a cell that shows the run card'));
    list.append(item);
  }
  if (!own.length) {
    list.append(el('li', 'cvops-panel-empty', 'No run yet (%%cvops run NAME).'));
  }
  section.append(list);
  return section;
}

export function renderModels(host: ISectionHost, models: IModel[], history: IAliasEvent[]): HTMLElement {
  const names = [...new Set(models.map(m => m.model))].sort();
  const section = host.section('models', 'Models', names.length);
  const list = el('ul', 'cvops-panel-list');
  for (const name of names) {
    const versions = models.filter(m => m.model === name);
    const item = host.item(name, [`${versions.length} version${versions.length === 1 ? '' : 's'}`],
      'cvops-panel-model');
    item.dataset.model = name;
    const aliases = el('ul', 'cvops-panel-aliases');
    for (const v of versions) {
      for (const alias of v.aliases ?? []) {
        const row = el('li', 'cvops-panel-alias');
        row.dataset.alias = alias;
        row.dataset.version = v.version;
        row.append(el('span', 'cvops-panel-alias-name', `@${alias}`), el('span', 'cvops-panel-alias-version',
          `→ ${short(v.version)}`));
        const roll = button('Rollback', 'cvops-panel-rollback', () => void host.rollback(name, alias, v.version),
          'Point this alias back at the version that held it before (asks for a reason)');
        roll.dataset.model = name;
        roll.dataset.alias = alias;
        row.append(
          roll,
          button('Load', 'cvops-panel-load', () =>
            host.insert(`model = ws.model(${py(`${name}@${alias}`)}).load()\nmodel`), 'Insert a cell that loads it')
        );
        aliases.append(row);
      }
    }
    item.append(aliases);
    const versionList = el('ul', 'cvops-panel-versions');
    for (const v of versions) {
      const row = el('li', 'cvops-panel-model-version', `${short(v.version)} · ${when(v.created_at)} · ` +
        `${v.framework ?? '-'}${v.aliases && v.aliases.length ? ' · @' + v.aliases.join(', @') : ''}`);
      row.dataset.version = v.version;
      versionList.append(row);
    }
    item.append(versionList);
    const events = history.filter(h => h.model === name);
    const past = el('details', 'cvops-panel-history');
    past.append(el('summary', '', `Alias history (${events.length})`));
    const rows = el('ol', 'cvops-panel-history-list');
    for (const h of [...events].reverse()) {
      const row = el('li', `cvops-panel-history-row cvops-action-${h.action}`);
      row.dataset.action = h.action;
      row.append(
        el('div', '', `${when(h.created_at)} @${h.alias} ${h.action} → ${short(h.version)}` +
          (h.previous_version ? ` (was ${short(h.previous_version)})` : '')),
        el('div', 'cvops-panel-fact', `${h.author ?? '-'}${h.message ? ': ' + h.message : ''}`)
      );
      rows.append(row);
    }
    past.append(rows);
    item.append(past);
    list.append(item);
  }
  if (!names.length) {
    list.append(el('li', 'cvops-panel-empty', 'No model registered yet (run.register_model).'));
  }
  section.append(list);
  return section;
}

export function renderAlerts(host: ISectionHost, checks: IWorkspaceData['checks']): HTMLElement {
  const latest = new Map<string, ICheck>();
  for (const c of checks.checks) {
    const key = `${c.kind}\u0000${c.target}`;
    if (!latest.has(key)) {
      latest.set(key, c); // newest first
    }
  }
  const all = [...latest.values()];
  const alerts = all.filter(c => c.alert);
  const due = checks.retrain_due.filter(d => d.result?.due || d.error);
  const section = host.section('alerts', 'Alerts', alerts.length + due.length);
  const top = el('div', 'cvops-panel-actions');
  top.append(
    button('Open in review widget', 'cvops-panel-review', () =>
      host.insert('session = cv.review(ws, queue=ws.review_queue())\nsession'),
      'Insert a cell that opens the review widget on the review queue')
  );
  section.append(top);
  const list = el('ul', 'cvops-panel-list');
  for (const d of checks.retrain_due) {
    const isDue = Boolean(d.result?.due);
    const facts = d.error ? [d.error] : (d.result?.reasons ?? []);
    const item = host.item(`Retrain ${isDue ? 'due' : 'not due'}: ${d.ref}`, facts,
      `cvops-panel-check ${isDue || d.error ? 'cvops-alert-on' : 'cvops-alert-off'}`);
    item.dataset.kind = 'retrain_due';
    item.dataset.target = d.ref;
    host.actions(item, button('Details', 'cvops-panel-check-details', () =>
      host.insert(`ws.retrain_due(${py(d.ref)})`)));
    list.append(item);
  }
  for (const c of [...alerts, ...all.filter(c => !c.alert)]) {
    const item = host.item(`${KIND_LABELS[c.kind] ?? c.kind}: ${c.target}`, [
      c.summary ?? '',
      `${c.alert ? 'ALERT' : 'ok'} · ${when(c.created_at)}`
    ], `cvops-panel-check ${c.alert ? 'cvops-alert-on' : 'cvops-alert-off'}`);
    item.dataset.kind = c.kind;
    item.dataset.target = c.target;
    item.dataset.alert = String(c.alert);
    host.actions(item, button('Details', 'cvops-panel-check-details', () =>
      host.insert(`ws.last_check(${py(c.kind)}, ${py(c.target)})`), 'Insert a cell with the stored result'));
    list.append(item);
  }
  if (!all.length && !checks.retrain_due.length) {
    list.append(el('li', 'cvops-panel-empty', 'No check has run yet (ws.agreement(), ws.drift(), ws.skew()).'));
  }
  section.append(list);
  return section;
}

export function renderRecipes(host: ISectionHost, recipes: IWorkspaceData['recipes']): HTMLElement {
  const section = host.section('recipes', 'Recipes', recipes.recipes.length);
  const list = el('ul', 'cvops-panel-list');
  for (const r of recipes.recipes) {
    const where = r.location ?? r.path ?? '';
    const check = r.check_ok === true ? 'last check passed' : r.check_ok === false ? 'last check FAILED' : '';
    const item = host.item(r.name, [
      `${when(r.created_at)} · ${r.author ?? '-'}${check ? ' · ' + check : ''}`,
      where
    ], 'cvops-panel-recipe');
    item.dataset.recipe = r.recipe_id;
    const target = host.fromNotebook(where);
    host.actions(
      item,
      button('Check', 'cvops-panel-recipe-check', () => host.runRecipe(r, true),
        'Re-run the recipe on its own data with its own parameters on the server, and compare its metrics'),
      button('Run', 'cvops-panel-recipe-run', () => host.runRecipe(r, false),
        'Re-run the recipe on the server (records a run; alias moves only proposed)'),
      button('Cell', 'cvops-panel-recipe-cell', () =>
        host.insertCell(`import jupyter_cvops as cv\nresult = cv.retrain(${py(target)}, check=True)\nresult`),
        'Insert a cell that runs the check in this notebook instead'),
      button('Open', 'cvops-panel-recipe-open', () =>
        host.openFile(PathExt.join(where, 'recipe.yaml')),
        'Open recipe.yaml')
    );
    const slot = el('div', 'cvops-job-slot');
    const box = host.jobBox(r.recipe_id);
    if (box) {
      slot.append(box);
    }
    item.append(slot);
    list.append(item);
  }
  if (!recipes.recipes.length) {
    list.append(el('li', 'cvops-panel-empty',
      recipes.available ? 'No recipe yet.' : 'No recipe yet: File > Export Notebook as Retrain Recipe.'));
  }
  section.append(list);
  return section;
}

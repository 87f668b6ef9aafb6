/**
 * The CV Ops side panel (left sidebar, like the git panel): pick a workspace under the
 * server's roots (remembered per notebook in `metadata.cvops.workspace`, relative to the
 * notebook's folder) and see its dataset versions, taxonomy history, runs, models with
 * their aliases and alias history, alerts and recipes.
 *
 * Reads go through the read-only GET endpoints; the one write (a rollback) through
 * `POST /cvops/api/aliases/rollback` after a confirmation with a reason. Actions that
 * belong in a notebook insert a ready cell below the active cell instead of keeping
 * state in the UI. Every request can be cancelled; errors show the server's one line.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { NotebookActions, type INotebookTracker, type NotebookPanel } from '@jupyterlab/notebook';
import type { PartialJSONObject } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';

import { button, el, py, short, text, when } from './dom';
import { errorMessage, postAPI, requestAPI } from './request';
import { METADATA_KEY, PANEL_ID, WORKSPACE_FIELD } from './tokens';

/** `GET workspaces` entry: the value to send back, and where JupyterLab shows the folder. */
export interface IWorkspaceEntry {
  workspace: string;
  path: string;
}

interface IVersion {
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

interface ITaxonomyEvent {
  version: number;
  created_at: string;
  author: string | null;
  message: string | null;
  n_classes: number | null;
  changes: string[] | null;
}

interface IRun {
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

interface IModel {
  model: string;
  version: string;
  aliases: string[] | null;
  created_at: string;
  author: string | null;
  framework: string | null;
  run_id: string | null;
}

interface IAliasEvent {
  model: string;
  alias: string;
  action: string;
  version: string | null;
  previous_version: string | null;
  author: string | null;
  created_at: string;
  message: string | null;
}

interface ICheck {
  check_id: string;
  kind: string;
  target: string;
  alert: boolean;
  summary: string | null;
  created_at: string;
}

interface IRetrainDue {
  ref: string;
  result?: { due?: boolean; reasons?: string[]; version?: string };
  error?: string;
}

interface IRecipe {
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
interface IWorkspaceData {
  versions: IVersion[];
  taxonomy: { version: number; history: ITaxonomyEvent[] };
  runs: { total: number; runs: IRun[] };
  models: IModel[];
  history: IAliasEvent[];
  checks: { checks: ICheck[]; retrain_due: IRetrainDue[]; retrain_due_available: boolean };
  recipes: { available: boolean; recipes: IRecipe[] };
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

function isObject(value: unknown): value is PartialJSONObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The workspace a notebook remembers, as a path relative to the server root (or absolute). */
export function notebookWorkspace(panel: NotebookPanel): string | null {
  const section: unknown = panel.context.model.getMetadata(METADATA_KEY);
  const value = isObject(section) ? section[WORKSPACE_FIELD] : undefined;
  if (typeof value !== 'string' || !value.trim()) {
    return null;
  }
  if (value.startsWith('/')) {
    return value;
  }
  return PathExt.normalize(PathExt.join(PathExt.dirname(panel.context.path), value)) || '.';
}

/** `path` (relative to the server root, or absolute) as seen from the notebook's folder. */
export function fromNotebook(panel: NotebookPanel | null, path: string): string {
  if (path.startsWith('/') || panel === null) {
    return path;
  }
  const relative = PathExt.relative(PathExt.dirname(panel.context.path), path);
  return relative || '.';
}

/**
 * The left-sidebar panel. `workspace` is the value the GET endpoints take; `path` where
 * JupyterLab shows the folder (the two differ only with `CvopsServerConfig.roots`).
 */
export class CvopsPanel extends Widget {
  constructor(app: JupyterFrontEnd, tracker: INotebookTracker) {
    super();
    this._app = app;
    this._tracker = tracker;
    this.id = PANEL_ID;
    this.addClass('cvops-panel');
    this.title.caption = 'CV Ops';
    this.title.iconClass = 'cvops-panel-icon jp-SideBar-tabIcon';

    const header = el('div', 'cvops-panel-header');
    header.append(el('h2', 'cvops-panel-title', 'CV Ops'));
    const picker = el('div', 'cvops-panel-picker');
    const label = el('label', 'cvops-panel-label', 'Workspace');
    this._select.className = 'jp-mod-styled cvops-panel-workspace';
    this._select.setAttribute('aria-label', 'Workspace');
    label.append(this._select);
    this._select.addEventListener('change', () => {
      if (this._select.value) {
        this.setWorkspace(this._select.value, { remember: true });
      }
    });
    picker.append(
      label,
      button('Refresh', 'cvops-panel-refresh', () => void this.refresh(), 'Reload the workspace list and sections')
    );
    this._notebookLine.className = 'cvops-panel-notebook';
    header.append(picker, this._notebookLine);

    this._progress.className = 'cvops-panel-progress';
    this._progress.hidden = true;
    const bar = el('progress', 'cvops-panel-progress-bar');
    this._progress.append(
      bar,
      this._progressLabel,
      button('Cancel', 'cvops-panel-cancel', () => this.cancel(), 'Cancel the running request')
    );
    this._error.className = 'cvops-panel-error';
    this._error.setAttribute('role', 'alert');
    this._error.hidden = true;
    this._notice.className = 'cvops-panel-notice';
    this._notice.hidden = true;
    this._sections.className = 'cvops-panel-sections';
    this.node.append(header, this._progress, this._error, this._notice, this._sections);
    this._renderEmpty('Pick a workspace under the server root.');

    tracker.currentChanged.connect(() => this._onNotebook());
    void this.loadWorkspaces().then(() => this._onNotebook());
  }

  /** The workspace shown (the GET endpoints' `workspace` value), or null. */
  get workspace(): string | null {
    return this._workspace;
  }

  /** Where JupyterLab shows the current workspace (relative to the server root, or absolute). */
  get workspacePath(): string | null {
    if (this._workspace === null) {
      return null;
    }
    const entry = this._entries.find(e => e.workspace === this._workspace);
    return entry ? entry.path : this._workspace;
  }

  /** Fill the picker from `GET workspaces`. */
  async loadWorkspaces(): Promise<void> {
    try {
      const answer = await requestAPI<{ workspaces: IWorkspaceEntry[] }>('workspaces');
      this._entries = answer.workspaces;
    } catch (error) {
      this._showError(errorMessage(error));
    }
    this._fillPicker();
  }

  /** Show `workspace`; `remember` writes it into the current notebook's metadata. */
  setWorkspace(workspace: string, options: { remember?: boolean } = {}): void {
    this._workspace = workspace;
    this._fillPicker();
    if (options.remember) {
      this._remember();
    }
    void this.refresh(false);
  }

  /** Cancel the running request (its section keeps what it showed before). */
  cancel(): void {
    this._controller?.abort();
  }

  /** Reload every section of the current workspace (and, by default, the workspace list). */
  async refresh(workspaces = true): Promise<void> {
    if (workspaces) {
      await this.loadWorkspaces();
    }
    const workspace = this._workspace;
    if (workspace === null) {
      this._renderEmpty('Pick a workspace under the server root.');
      return;
    }
    const data = await this._task(`Loading ${workspace}…`, async signal => {
      const get = <T>(endpoint: string): Promise<T> =>
        requestAPI<T>(endpoint, { query: { workspace }, init: { signal } });
      const [versions, taxonomy, runs, models, aliases, checks, recipes] = await Promise.all([
        get<{ versions: IVersion[] }>('versions'),
        get<IWorkspaceData['taxonomy']>('taxonomy'),
        get<IWorkspaceData['runs']>('runs'),
        get<{ models: IModel[] }>('models'),
        get<{ history: IAliasEvent[] }>('aliases'),
        get<IWorkspaceData['checks']>('checks'),
        get<IWorkspaceData['recipes']>('recipes')
      ]);
      return {
        versions: versions.versions,
        taxonomy,
        runs,
        models: models.models,
        history: aliases.history,
        checks,
        recipes
      } as IWorkspaceData;
    });
    if (data !== null && workspace === this._workspace) {
      this._render(data);
    }
  }

  /** Insert `code` as a new code cell below the active cell of the current notebook. */
  insertCell(code: string): boolean {
    const panel = this._tracker.currentWidget;
    if (panel === null) {
      this._showError('Open a notebook first: the action inserts a ready cell into it.');
      return false;
    }
    const notebook = panel.content;
    NotebookActions.insertBelow(notebook);
    if (notebook.activeCell?.model.type !== 'code') {
      NotebookActions.changeCellType(notebook, 'code');
    }
    notebook.activeCell?.model.sharedModel.setSource(code);
    this._app.shell.activateById(panel.id);
    this._showNotice('Inserted a cell below the active cell: run it with Shift+Enter.');
    return true;
  }

  /** Ask for a reason, then roll `model@alias` back through the server. */
  async rollback(model: string, alias: string, current: string | null): Promise<void> {
    const body = new ReasonBody(model, alias, current);
    const answer = await showDialog({
      title: `Roll back ${model}@${alias}?`,
      body,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Roll back' })],
      focusNodeSelector: 'textarea'
    });
    if (!answer.button.accept) {
      return;
    }
    const reason = (answer.value ?? '').trim();
    if (!reason) {
      this._showError('A rollback needs a reason (it is recorded in the alias history).');
      return;
    }
    const workspace = this._workspace;
    const done = await this._task(`Rolling back ${model}@${alias}…`, signal =>
      postAPI<{ version: string; previous_version: string }>(
        'aliases/rollback',
        { workspace, model, alias, reason },
        signal
      )
    );
    if (done !== null) {
      await this.refresh(false);
      this._showNotice(
        `${model}@${alias} now points at ${short(done.version)} (was ${short(done.previous_version)}).`
      );
    }
  }

  // -- internals ------------------------------------------------------------------------
  private async _task<T>(label: string, run: (signal: AbortSignal) => Promise<T>): Promise<T | null> {
    this._controller?.abort();
    const controller = new AbortController();
    this._controller = controller;
    this._progressLabel.textContent = label;
    this._progress.hidden = false;
    this._error.hidden = true;
    this.node.dataset.busy = 'true';
    try {
      return await run(controller.signal);
    } catch (error) {
      if (controller.signal.aborted) {
        if (this._controller === controller) {
          this._showError('Cancelled.');
        }
      } else {
        this._showError(errorMessage(error));
      }
      return null;
    } finally {
      if (this._controller === controller) {
        this._controller = null;
        this._progress.hidden = true;
        delete this.node.dataset.busy;
      }
    }
  }

  private _showError(message: string): void {
    this._error.textContent = message;
    this._error.hidden = false;
  }

  private _showNotice(message: string): void {
    this._notice.textContent = message;
    this._notice.hidden = false;
  }

  private _fillPicker(): void {
    const options: HTMLOptionElement[] = [];
    const placeholder = el('option', '', this._entries.length ? 'Choose a workspace…' : 'No workspace found');
    placeholder.value = '';
    options.push(placeholder);
    const values = new Set<string>();
    for (const entry of this._entries) {
      const option = el('option', '', entry.path);
      option.value = entry.workspace;
      options.push(option);
      values.add(entry.workspace);
    }
    if (this._workspace !== null && !values.has(this._workspace)) {
      const option = el('option', '', this._workspace);
      option.value = this._workspace;
      options.push(option);
    }
    this._select.replaceChildren(...options);
    this._select.value = this._workspace ?? '';
  }

  /** The current notebook changed: show the workspace it remembers. */
  private _onNotebook(): void {
    const panel = this._tracker.currentWidget;
    if (panel === null) {
      this._notebookLine.textContent = '';
      return;
    }
    void panel.context.ready.then(() => {
      if (this._tracker.currentWidget !== panel) {
        return;
      }
      const path = notebookWorkspace(panel);
      this._notebookLine.textContent = path
        ? `${panel.context.localPath} uses ${path}`
        : `${panel.context.localPath} remembers no workspace yet`;
      if (path === null) {
        return;
      }
      const entry = this._entries.find(e => e.path === path);
      const workspace = entry ? entry.workspace : path;
      if (workspace !== this._workspace) {
        this.setWorkspace(workspace);
      }
    });
  }

  /** Write the current workspace into the current notebook's `metadata.cvops.workspace`. */
  private _remember(): void {
    const panel = this._tracker.currentWidget;
    const path = this.workspacePath;
    if (panel === null || path === null) {
      return;
    }
    const model = panel.context.model;
    const section: unknown = model.getMetadata(METADATA_KEY);
    const base = isObject(section) ? section : {};
    const value = fromNotebook(panel, path);
    if (base[WORKSPACE_FIELD] !== value) {
      model.setMetadata(METADATA_KEY, { ...base, [WORKSPACE_FIELD]: value });
    }
    this._notebookLine.textContent = `${panel.context.localPath} uses ${path}`;
  }

  /** The first lines of every inserted cell: open the workspace from the notebook's folder. */
  private _prelude(): string {
    const path = fromNotebook(this._tracker.currentWidget, this.workspacePath ?? '.');
    return `import jupyter_cvops as cv\nws = cv.Workspace.open(${py(path)})\n`;
  }

  private _insert(code: string): void {
    this.insertCell(this._prelude() + code);
  }

  private _renderEmpty(message: string): void {
    this._sections.replaceChildren(el('p', 'cvops-panel-empty', message));
  }

  private _section(key: string, title: string, count: number | string, open = true): HTMLElement {
    const details = el('details', 'cvops-panel-section');
    details.dataset.section = key;
    details.open = open;
    const summary = el('summary', 'cvops-panel-section-title');
    summary.append(el('span', '', title), el('span', 'cvops-panel-count', count));
    details.append(summary);
    return details;
  }

  private _item(title: string, facts: string[], className = ''): HTMLElement {
    const item = el('li', `cvops-panel-item ${className}`.trim());
    const head = el('div', 'cvops-panel-item-head');
    head.append(el('span', 'cvops-panel-item-title', title));
    item.append(head);
    for (const fact of facts.filter(f => f)) {
      item.append(el('div', 'cvops-panel-fact', fact));
    }
    return item;
  }

  private _actions(item: HTMLElement, ...buttons: HTMLButtonElement[]): void {
    const row = el('div', 'cvops-panel-actions');
    row.append(...buttons);
    item.append(row);
  }

  private _render(data: IWorkspaceData): void {
    this._sections.replaceChildren(
      this._renderVersions(data.versions),
      this._renderTaxonomy(data.taxonomy),
      this._renderRuns(data.runs),
      this._renderModels(data.models, data.history),
      this._renderAlerts(data.checks),
      this._renderRecipes(data.recipes)
    );
  }

  private _renderVersions(versions: IVersion[]): HTMLElement {
    const section = this._section('versions', 'Dataset versions', versions.length);
    const list = el('ul', 'cvops-panel-list');
    const ordered = [...versions].reverse(); // newest first
    ordered.forEach((v, i) => {
      const ref = v.name || v.id;
      const names = v.names && v.names.length > 1 ? `names: ${v.names.join(', ')}` : '';
      const item = this._item(v.name || short(v.id), [
        `${v.n_images} images · ${v.n_labels} labels · taxonomy v${text(v.taxonomy_version)}`,
        `${short(v.id)} · ${when(v.created_at)} · ${v.author ?? '-'}`,
        v.message ? `“${v.message}”` : '',
        names
      ]);
      item.dataset.version = v.id;
      const buttons = [
        button('Verify', 'cvops-panel-verify', () => this._insert(`ws.version(${py(ref)}).verify()`),
          'Insert a cell that re-checks every file of this version')
      ];
      const older = ordered[i + 1];
      if (older) {
        const oldRef = older.name || older.id;
        buttons.push(
          button('Diff', 'cvops-panel-diff', () => this._insert(`ws.version(${py(oldRef)}).diff(${py(ref)})`),
            `Insert a cell with the label diff from ${oldRef}`)
        );
      }
      this._actions(item, ...buttons);
      list.append(item);
    });
    if (!versions.length) {
      list.append(el('li', 'cvops-panel-empty', 'No dataset version yet (%cvops snapshot).'));
    }
    section.append(list);
    return section;
  }

  private _renderTaxonomy(taxonomy: IWorkspaceData['taxonomy']): HTMLElement {
    const section = this._section('taxonomy', 'Taxonomy history', `v${taxonomy.version}`, false);
    const list = el('ul', 'cvops-panel-list');
    for (const h of [...taxonomy.history].reverse()) {
      list.append(
        this._item(`v${h.version}`, [
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

  private _renderRuns(runs: IWorkspaceData['runs']): HTMLElement {
    const own = runs.runs.filter(r => r.kind === 'run');
    const section = this._section('runs', 'Runs', own.length);
    const list = el('ul', 'cvops-panel-list');
    for (const r of own.slice(0, MAX_RUNS)) {
      const duration = r.duration_s !== null ? `${text(r.duration_s)} s` : '';
      const item = this._item(r.name, [
        [r.status, duration, when(r.started_at), r.user ?? ''].filter(Boolean).join(' · '),
        Object.keys(r.metrics).length ? `metrics: ${text(r.metrics)}` : '',
        Object.keys(r.params).length ? `params: ${text(r.params)}` : '',
        r.input_names && r.input_names.length ? `data: ${r.input_names.join(', ')}` : '',
        r.error ?? ''
      ], `cvops-panel-run cvops-status-${r.status}`);
      item.dataset.runId = r.run_id;
      item.dataset.status = r.status;
      this._actions(item, button('Card', 'cvops-panel-run-card', () => this._insert(`ws.get_run(${py(r.run_id)})`),
        'Insert a cell that shows the run card'));
      list.append(item);
    }
    if (!own.length) {
      list.append(el('li', 'cvops-panel-empty', 'No run yet (%%cvops run NAME).'));
    }
    section.append(list);
    return section;
  }

  private _renderModels(models: IModel[], history: IAliasEvent[]): HTMLElement {
    const names = [...new Set(models.map(m => m.model))].sort();
    const section = this._section('models', 'Models', names.length);
    const list = el('ul', 'cvops-panel-list');
    for (const name of names) {
      const versions = models.filter(m => m.model === name);
      const item = this._item(name, [`${versions.length} version${versions.length === 1 ? '' : 's'}`],
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
          const roll = button('Rollback', 'cvops-panel-rollback', () => void this.rollback(name, alias, v.version),
            'Point this alias back at the version that held it before (asks for a reason)');
          roll.dataset.model = name;
          roll.dataset.alias = alias;
          row.append(
            roll,
            button('Load', 'cvops-panel-load', () =>
              this._insert(`model = ws.model(${py(`${name}@${alias}`)}).load()\nmodel`), 'Insert a cell that loads it')
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

  private _renderAlerts(checks: IWorkspaceData['checks']): HTMLElement {
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
    const section = this._section('alerts', 'Alerts', alerts.length + due.length);
    const top = el('div', 'cvops-panel-actions');
    top.append(
      button('Open in review widget', 'cvops-panel-review', () =>
        this._insert('session = cv.review(ws, queue=ws.review_queue())\nsession'),
        'Insert a cell that opens the review widget on the review queue')
    );
    section.append(top);
    const list = el('ul', 'cvops-panel-list');
    for (const d of checks.retrain_due) {
      const isDue = Boolean(d.result?.due);
      const facts = d.error ? [d.error] : (d.result?.reasons ?? []);
      const item = this._item(`Retrain ${isDue ? 'due' : 'not due'}: ${d.ref}`, facts,
        `cvops-panel-check ${isDue || d.error ? 'cvops-alert-on' : 'cvops-alert-off'}`);
      item.dataset.kind = 'retrain_due';
      item.dataset.target = d.ref;
      this._actions(item, button('Details', 'cvops-panel-check-details', () =>
        this._insert(`ws.retrain_due(${py(d.ref)})`)));
      list.append(item);
    }
    for (const c of [...alerts, ...all.filter(c => !c.alert)]) {
      const item = this._item(`${KIND_LABELS[c.kind] ?? c.kind}: ${c.target}`, [
        c.summary ?? '',
        `${c.alert ? 'ALERT' : 'ok'} · ${when(c.created_at)}`
      ], `cvops-panel-check ${c.alert ? 'cvops-alert-on' : 'cvops-alert-off'}`);
      item.dataset.kind = c.kind;
      item.dataset.target = c.target;
      item.dataset.alert = String(c.alert);
      this._actions(item, button('Details', 'cvops-panel-check-details', () =>
        this._insert(`ws.last_check(${py(c.kind)}, ${py(c.target)})`), 'Insert a cell with the stored result'));
      list.append(item);
    }
    if (!all.length && !checks.retrain_due.length) {
      list.append(el('li', 'cvops-panel-empty', 'No check has run yet (ws.agreement(), ws.drift(), ws.skew()).'));
    }
    section.append(list);
    return section;
  }

  private _renderRecipes(recipes: IWorkspaceData['recipes']): HTMLElement {
    const section = this._section('recipes', 'Recipes', recipes.recipes.length);
    const list = el('ul', 'cvops-panel-list');
    for (const r of recipes.recipes) {
      const where = r.location ?? r.path ?? '';
      const check = r.check_ok === true ? 'last check passed' : r.check_ok === false ? 'last check FAILED' : '';
      const item = this._item(r.name, [
        `${when(r.created_at)} · ${r.author ?? '-'}${check ? ' · ' + check : ''}`,
        where
      ], 'cvops-panel-recipe');
      item.dataset.recipe = r.recipe_id;
      const target = fromNotebook(this._tracker.currentWidget, where);
      this._actions(
        item,
        button('Check', 'cvops-panel-recipe-check', () =>
          this.insertCell(`import jupyter_cvops as cv\nresult = cv.retrain(${py(target)}, check=True)\nresult`),
          'Insert a cell that re-runs the recipe on the same data and compares its metrics'),
        button('Run', 'cvops-panel-recipe-run', () =>
          this.insertCell(`import jupyter_cvops as cv\nresult = cv.retrain(${py(target)})\nresult`),
          'Insert a cell that re-runs the recipe'),
        button('Open', 'cvops-panel-recipe-open', () =>
          void this._app.commands.execute('docmanager:open', { path: PathExt.join(where, 'recipe.yaml') }),
          'Open recipe.yaml')
      );
      list.append(item);
    }
    if (!recipes.recipes.length) {
      list.append(el('li', 'cvops-panel-empty',
        recipes.available ? 'No recipe yet.' : 'No recipe yet: File > Export Notebook as Retrain Recipe.'));
    }
    section.append(list);
    return section;
  }

  private readonly _app: JupyterFrontEnd;
  private readonly _tracker: INotebookTracker;
  private _entries: IWorkspaceEntry[] = [];
  private _workspace: string | null = null;
  private _controller: AbortController | null = null;
  private readonly _select = document.createElement('select');
  private readonly _notebookLine = document.createElement('div');
  private readonly _progress = document.createElement('div');
  private readonly _progressLabel = el('span', 'cvops-panel-progress-label');
  private readonly _error = document.createElement('div');
  private readonly _notice = document.createElement('div');
  private readonly _sections = document.createElement('div');
}

/** The body of the rollback confirmation: what moves, and a required reason. */
class ReasonBody extends Widget implements Dialog.IBodyWidget<string> {
  constructor(model: string, alias: string, current: string | null) {
    super();
    this.addClass('cvops-reason-body');
    this.node.append(
      el('p', '', `${model}@${alias} points at ${short(current)}. A rollback points it back at the version ` +
        'that held it before; the move is recorded in the alias history with your reason.'),
      el('label', 'cvops-reason-label', 'Reason (required)')
    );
    this._reason.className = 'jp-mod-styled cvops-reason';
    this._reason.rows = 3;
    this._reason.placeholder = 'e.g. recall dropped on line 2 since the last deploy';
    this.node.append(this._reason);
  }

  getValue(): string {
    return this._reason.value;
  }

  private readonly _reason = document.createElement('textarea');
}

/**
 * The CV Ops side panel (left sidebar, like the git panel): pick a workspace under the
 * server's roots (remembered per notebook in `metadata.cvops.workspace`, relative to the
 * notebook's folder) and see its dataset versions, taxonomy history, runs, models with
 * their aliases and alias history, alerts, recipes and the audit (ten questions, see panelAudit.ts).
 *
 * Reads go through the read-only GET endpoints; a rollback through
 * `POST /cvops/api/aliases/rollback` after a confirmation with a reason; a recipe's Check
 * and Run start a background job on the server (`POST recipes/retrain`) shown with its
 * progress (cells done of total), a Cancel button and its result (see recipeJobs.ts).
 * Actions that belong in a notebook insert a ready cell below the active cell instead of
 * keeping state in the UI. Every request can be cancelled; errors show the server's one line.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { NotebookActions, type INotebookTracker, type NotebookPanel } from '@jupyterlab/notebook';
import type { PartialJSONObject } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';

import { button, el, py, short } from './dom';
import { fetchAudit, renderAudit, type AuditState, type IAuditHost } from './panelAudit';
import { cancelJob, followJob, isFinal, renderJob, startRecipeJob, type IJob } from './recipeJobs';
import { errorMessage, postAPI, requestAPI } from './request';
import {
  renderAlerts,
  renderModels,
  renderRecipes,
  renderRuns,
  renderTaxonomy,
  renderVersions,
  type IAliasEvent,
  type IModel,
  type IRecipe,
  type ISectionHost,
  type IVersion,
  type IWorkspaceData
} from './panelSections';
import { METADATA_KEY, PANEL_ID, WORKSPACE_FIELD } from './tokens';

/** `GET workspaces` entry: the value to send back, and where JupyterLab shows the folder. */
export interface IWorkspaceEntry {
  workspace: string;
  path: string;
}

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
  if (value.startsWith('/') || value.includes('://')) {
    return value; // absolute, or a workspace URI (s3://bucket/prefix under a URI root)
  }
  return PathExt.normalize(PathExt.join(PathExt.dirname(panel.context.path), value)) || '.';
}

/** `path` (relative to the server root, or absolute) as seen from the notebook's folder. */
export function fromNotebook(panel: NotebookPanel | null, path: string): string {
  if (path.startsWith('/') || path.includes('://') || panel === null) {
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
    void this._resumeJobs();
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

  /** Cancel the running request (its section keeps what it showed before) and the audit's. */
  cancel(): void {
    this._controller?.abort();
    this._auditController?.abort();
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
    void this.refreshAudit(); // beside the other reads: its section fills in when it answers
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

  /** Ask the server for the current workspace's audit again (`GET audit`); its section shows the answer. */
  async refreshAudit(): Promise<void> {
    const workspace = this._workspace;
    if (workspace === null) {
      return;
    }
    this._auditController?.abort();
    const controller = new AbortController();
    this._auditController = controller;
    this._setAudit(workspace, { status: 'loading' });
    let state: AuditState;
    try {
      state = { status: 'ready', audit: await fetchAudit(workspace, controller.signal) };
    } catch (error) {
      if (controller.signal.aborted && this._auditController !== controller) {
        return; // a newer request replaced this one
      }
      state = { status: 'error', message: controller.signal.aborted ? 'Cancelled.' : errorMessage(error) };
    }
    if (this._auditController === controller) {
      this._auditController = null;
    }
    if (workspace === this._workspace) {
      this._setAudit(workspace, state);
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

  /** Re-run `recipe` as a server job (`check`: same data and parameters, metrics compared) and follow it. */
  async runRecipe(recipe: IRecipe, check: boolean): Promise<void> {
    const where = recipe.location ?? recipe.path;
    if (!where) {
      this._showError(`Recipe ${recipe.name} has no folder the server can see.`);
      return;
    }
    this._error.hidden = true;
    let job: IJob;
    try {
      job = await startRecipeJob(where, check, this._workspace);
    } catch (error) {
      this._showError(errorMessage(error));
      return;
    }
    await this._follow(job);
  }

  /** Ask the server to cancel job `id` (its box shows "cancelling…" until the job ends). */
  async cancelJob(id: string): Promise<void> {
    try {
      this._setJob(await cancelJob(id));
    } catch (error) {
      this._showError(errorMessage(error));
    }
  }

  // -- internals ------------------------------------------------------------------------
  private async _follow(job: IJob): Promise<void> {
    this._setJob(job);
    try {
      const final = await followJob(job.id, j => this._setJob(j));
      if (final.status !== 'cancelled') {
        await this.refresh(false); // the new run and check; the job box is drawn again from _jobs
      }
    } catch (error) {
      this._showError(errorMessage(error));
    }
  }

  /** Jobs the server is still running (after a reload): show and follow them. */
  private async _resumeJobs(): Promise<void> {
    let jobs: IJob[];
    try {
      jobs = (await requestAPI<{ jobs: IJob[] }>('jobs')).jobs;
    } catch {
      return; // an older server without jobs: nothing to resume
    }
    for (const job of [...jobs].reverse()) { // oldest first: the newest per recipe wins
      this._jobs.set(job.recipe_id, job);
    }
    for (const job of jobs.filter(j => !isFinal(j))) {
      void this._follow(job);
    }
  }

  private _setJob(job: IJob): void {
    this._jobs.set(job.recipe_id, job);
    const slot = [...this._sections.querySelectorAll<HTMLElement>('.cvops-panel-recipe')]
      .find(item => item.dataset.recipe === job.recipe_id)
      ?.querySelector('.cvops-job-slot');
    slot?.replaceChildren(this._jobBox(job.recipe_id) ?? '');
  }

  private _jobBox(recipeId: string): HTMLElement | null {
    const job = this._jobs.get(recipeId);
    return job ? renderJob(job, () => void this.cancelJob(job.id)) : null;
  }

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
    const host = this._host;
    this._sections.replaceChildren(
      renderVersions(host, data.versions),
      renderTaxonomy(host, data.taxonomy),
      renderRuns(host, data.runs),
      renderModels(host, data.models, data.history),
      renderAlerts(host, data.checks),
      renderRecipes(host, data.recipes),
      this._auditSection()
    );
  }

  /** Keep `state` as the audit of `workspace` and redraw its section in place (open or closed as it was). */
  private _setAudit(workspace: string, state: AuditState): void {
    this._audit = { workspace, state };
    this._sections.querySelector(':scope > [data-section="audit"]')?.replaceWith(this._auditSection());
  }

  private _auditSection(): HTMLElement {
    const state: AuditState = this._audit?.workspace === this._workspace ? this._audit.state : { status: 'loading' };
    const node = renderAudit(this._auditHost, state, this._auditOpen);
    node.addEventListener('toggle', () => {
      this._auditOpen = (node as HTMLDetailsElement).open;
    });
    return node;
  }


  private readonly _app: JupyterFrontEnd;
  private readonly _tracker: INotebookTracker;
  private _entries: IWorkspaceEntry[] = [];
  private _workspace: string | null = null;
  private _controller: AbortController | null = null;
  private _auditController: AbortController | null = null;
  /** The last audit state and the workspace it belongs to; whether its section is expanded. */
  private _audit: { workspace: string; state: AuditState } | null = null;
  private _auditOpen = true;
  /** The last job of each recipe (by recipe id), as the server last reported it. */
  private readonly _jobs = new Map<string, IJob>();
  private readonly _select = document.createElement('select');
  private readonly _notebookLine = document.createElement('div');
  private readonly _progress = document.createElement('div');
  private readonly _progressLabel = el('span', 'cvops-panel-progress-label');
  private readonly _error = document.createElement('div');
  private readonly _notice = document.createElement('div');
  private readonly _sections = document.createElement('div');
  /** What the section renderers (panelSections.ts) use of the panel. */
  private readonly _host: ISectionHost = {
    section: (key, title, count, open) => this._section(key, title, count, open),
    item: (title, facts, className) => this._item(title, facts, className),
    actions: (item, ...buttons) => this._actions(item, ...buttons),
    insert: code => this._insert(code),
    insertCell: code => this.insertCell(code),
    rollback: (model, alias, current) => this.rollback(model, alias, current),
    fromNotebook: path => fromNotebook(this._tracker.currentWidget, path),
    openFile: path => void this._app.commands.execute('docmanager:open', { path }),
    runRecipe: (recipe, check) => void this.runRecipe(recipe, check),
    jobBox: recipeId => this._jobBox(recipeId)
  };
  private readonly _auditHost: IAuditHost = {
    section: (key, title, count, open) => this._section(key, title, count, open),
    insert: code => this._insert(code),
    refreshAudit: () => void this.refreshAudit()
  };
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

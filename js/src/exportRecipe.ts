/**
 * Export Notebook as Retrain Recipe (`cvops:export-recipe`): save the notebook, ask for a
 * name and a target folder, `POST /cvops/api/recipes/export`, show what was pinned with
 * links to the recipe. The export can be cancelled while it runs; a refusal shows the
 * server's one-line reason.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import type { NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { el, text } from './dom';
import { notebookWorkspace } from './panel';
import { errorMessage, postAPI } from './request';

/** What `POST recipes/export` answers. */
export interface IExportedRecipe {
  name: string;
  notebook: string;
  /** The recipe folder, relative to the server root (or absolute). */
  path: string;
  /** Its `recipe.yaml`, or null. */
  file: string | null;
  /** `Recipe.to_dict()`: everything pinned, with a short `pinned` summary. */
  recipe: Record<string, unknown>;
}

/** The values the export form collects. */
interface IExportForm {
  name: string;
  out: string;
  workspace: string;
  overwrite: boolean;
}

/** Default recipe folder: `recipes/<name>` beside the notebook. */
export function defaultFolder(notebookPath: string, name: string): string {
  return PathExt.join(PathExt.dirname(notebookPath), 'recipes', name);
}

class ExportBody extends Widget implements Dialog.IBodyWidget<IExportForm> {
  constructor(notebookPath: string, workspace: string | null) {
    super();
    this.addClass('cvops-export-form');
    const stem = PathExt.basename(notebookPath, '.ipynb');
    this._name.value = stem;
    this._out.value = defaultFolder(notebookPath, stem);
    this._workspace.value = workspace ?? '';
    this._workspace.placeholder = 'the one the notebook names';
    let outEdited = false;
    this._out.addEventListener('input', () => (outEdited = true));
    this._name.addEventListener('input', () => {
      if (!outEdited) {
        this._out.value = defaultFolder(notebookPath, this._name.value.trim() || stem);
      }
    });
    this._overwrite.type = 'checkbox';
    const row = (label: string, input: HTMLElement, cls: string): HTMLElement => {
      const node = el('label', `cvops-export-row ${cls}`);
      node.append(el('span', 'cvops-export-label', label), input);
      return node;
    };
    for (const input of [this._name, this._out, this._workspace]) {
      input.className = 'jp-mod-styled cvops-export-input';
    }
    this._name.classList.add('cvops-export-name');
    this._out.classList.add('cvops-export-out');
    this._workspace.classList.add('cvops-export-workspace');
    this.node.append(
      el('p', '', `Saves ${notebookPath} and pins its data, taxonomy, models and environment.`),
      row('Recipe name', this._name, ''),
      row('Target folder', this._out, ''),
      row('Workspace', this._workspace, ''),
      row('Replace a recipe already there', this._overwrite, 'cvops-export-check')
    );
  }

  getValue(): IExportForm {
    return {
      name: this._name.value.trim(),
      out: this._out.value.trim(),
      workspace: this._workspace.value.trim(),
      overwrite: this._overwrite.checked
    };
  }

  private readonly _name = document.createElement('input');
  private readonly _out = document.createElement('input');
  private readonly _workspace = document.createElement('input');
  private readonly _overwrite = document.createElement('input');
}

/** The result: each pinned group, then links to open the recipe. */
function resultBody(app: JupyterFrontEnd, result: IExportedRecipe): Widget {
  const widget = new Widget();
  widget.addClass('cvops-recipe-result');
  const node = widget.node;
  const pinnedRaw = result.recipe['pinned'];
  const pinned = (typeof pinnedRaw === 'object' && pinnedRaw !== null ? pinnedRaw : {}) as Record<string, unknown>;
  node.append(el('p', '', `Recipe “${result.name}” written to ${result.path}.`));
  const groups: [string, string, unknown][] = [
    ['datasets', 'Datasets', pinned['datasets'] ?? result.recipe['datasets']],
    ['taxonomy', 'Taxonomy', pinned['taxonomy_version'] !== undefined ? `version ${text(pinned['taxonomy_version'])}`
      : result.recipe['taxonomy_version']],
    ['models', 'Models', pinned['models'] ?? result.recipe['models']],
    ['environment', 'Environment', pinned['environment'] ?? result.recipe['environment']],
    ['parameters', 'Parameters', pinned['parameters'] ?? result.recipe['parameters_note']],
    ['seeds', 'Seeds', pinned['seeds']],
    ['git', 'Git commit', pinned['git_commit']]
  ];
  const facts = el('dl', 'cvops-recipe-pinned');
  for (const [key, label, value] of groups) {
    const dt = el('dt', '', label);
    const dd = el('dd', '');
    dd.dataset.pinned = key;
    if (Array.isArray(value)) {
      const list = el('ul', '');
      for (const v of value) {
        list.append(el('li', '', text(v)));
      }
      if (!value.length) {
        list.append(el('li', '', '-'));
      }
      dd.append(list);
    } else {
      dd.textContent = text(value);
    }
    facts.append(dt, dd);
  }
  node.append(facts);
  const links = el('div', 'cvops-recipe-links');
  const link = (label: string, cls: string, run: () => void): HTMLAnchorElement => {
    const a = el('a', `cvops-recipe-link ${cls}`, label);
    a.href = '#';
    a.addEventListener('click', event => {
      event.preventDefault();
      run();
    });
    return a;
  };
  if (result.file) {
    const file = result.file;
    links.append(link('Open recipe.yaml', 'cvops-recipe-open', () =>
      void app.commands.execute('docmanager:open', { path: file })));
  }
  links.append(link('Show the recipe folder', 'cvops-recipe-folder', () =>
    void app.commands.execute('filebrowser:go-to-path', { path: result.path })));
  node.append(links);
  return widget;
}

/**
 * Run the export for `panel`. `workspace` is the CV Ops panel's current workspace (the
 * form's default when the notebook remembers none).
 */
export async function exportRecipe(
  app: JupyterFrontEnd,
  panel: NotebookPanel,
  workspace: string | null
): Promise<IExportedRecipe | null> {
  await panel.context.ready;
  try {
    await panel.context.save();
  } catch (error) {
    await showErrorMessage('Recipe export: the notebook could not be saved', errorMessage(error));
    return null;
  }
  const path = panel.context.path;
  const asked = await showDialog({
    title: 'Export Notebook as Retrain Recipe',
    body: new ExportBody(path, notebookWorkspace(panel) ?? workspace),
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Export' })],
    focusNodeSelector: 'input'
  });
  if (!asked.button.accept || !asked.value) {
    return null;
  }
  const form = asked.value;
  const controller = new AbortController();
  const progress = new Widget();
  progress.addClass('cvops-export-progress');
  progress.node.append(el('progress', ''), el('p', '', `Exporting ${path}: pinning data, models and environment…`));
  const waiting = new Dialog({
    title: 'Exporting recipe…',
    body: progress,
    buttons: [Dialog.cancelButton({ label: 'Cancel' })]
  });
  let finished = false;
  void waiting.launch().then(() => {
    if (!finished) {
      controller.abort();
    }
  });
  try {
    const result = await postAPI<IExportedRecipe>(
      'recipes/export',
      {
        notebook: path,
        name: form.name || undefined,
        out: form.out || undefined,
        workspace: form.workspace || undefined,
        overwrite: form.overwrite
      },
      controller.signal
    );
    finished = true;
    waiting.dispose();
    await showDialog({
      title: 'Retrain recipe exported',
      body: resultBody(app, result),
      buttons: [Dialog.okButton()]
    });
    void app.commands.execute('cvops:open-panel', { refresh: true });
    return result;
  } catch (error) {
    finished = true;
    waiting.dispose();
    if (controller.signal.aborted) {
      await showErrorMessage('Recipe export cancelled',
        'The request was cancelled; a recipe the server had already begun may still be written.');
    } else {
      await showErrorMessage('Recipe export refused', errorMessage(error));
    }
    return null;
  }
}

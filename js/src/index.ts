/**
 * jupyter-cvops labextension: records dataset snapshots into notebook
 * metadata, exposes the server extension's status as a command, exports a
 * notebook as a retrain recipe (palette, notebook toolbar, File menu) and adds
 * the CV Ops side panel (./panel).
 * The snapshot card renderer is the package's MIME extension (./mime).
 */
import { ILayoutRestorer, type JupyterFrontEnd, type JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, ICommandPalette, ToolbarButton, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { IMainMenu } from '@jupyterlab/mainmenu';
import { INotebookTracker, type NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { exportRecipe } from './exportRecipe';
import { CvopsPanel } from './panel';
import { SnapshotRecorder, recordSnapshots } from './recorder';
import { type IServerStatus, requestAPI } from './request';
import { CommandIDs, PALETTE_CATEGORY, PANEL_PLUGIN_ID, PLUGIN_ID } from './tokens';

export { RUN_MIME_TYPE, SNAPSHOT_MIME_TYPE, CommandIDs } from './tokens';
export type { IRun } from './run';
export type { ISnapshot } from './snapshot';

function statusBody(status: IServerStatus): Widget {
  const widget = new Widget();
  const body = widget.node;
  const version = document.createElement('p');
  version.textContent = `jupyter-cvops ${status.version}`;
  const roots = document.createElement('ul');
  for (const root of status.roots) {
    const item = document.createElement('li');
    item.textContent = root;
    roots.append(item);
  }
  const label = document.createElement('p');
  label.textContent = 'Workspace roots:';
  body.append(version, label, roots);
  return widget;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Records cvops dataset snapshots into notebook metadata.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    palette: ICommandPalette | null
  ): void => {
    const recorder = new SnapshotRecorder();
    tracker.forEach(panel => recorder.watch(panel));
    tracker.widgetAdded.connect((_, panel) => recorder.watch(panel));

    app.commands.addCommand(CommandIDs.recordSnapshots, {
      label: 'Record Dataset Snapshots in Notebook Metadata',
      isEnabled: () => tracker.currentWidget !== null,
      execute: () => {
        const model = tracker.currentWidget?.context.model;
        return model ? recordSnapshots(model) : 0;
      }
    });

    app.commands.addCommand(CommandIDs.serverStatus, {
      label: 'Show CV Ops Server Status',
      execute: async () => {
        try {
          const status = await requestAPI<IServerStatus>('status');
          await showDialog({
            title: 'CV Ops server',
            body: statusBody(status),
            buttons: [Dialog.okButton()]
          });
        } catch (error) {
          await showErrorMessage('CV Ops server unavailable', String(error));
        }
      }
    });

    if (palette) {
      for (const command of [CommandIDs.recordSnapshots, CommandIDs.serverStatus]) {
        palette.addItem({ command, category: PALETTE_CATEGORY });
      }
    }
  }
};

/** The CV Ops side panel, the recipe export command and where it shows up. */
const panelPlugin: JupyterFrontEndPlugin<void> = {
  id: PANEL_PLUGIN_ID,
  description: 'The CV Ops side panel and Export Notebook as Retrain Recipe.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette, IMainMenu, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    palette: ICommandPalette | null,
    mainMenu: IMainMenu | null,
    restorer: ILayoutRestorer | null
  ): void => {
    const panel = new CvopsPanel(app, tracker);
    app.shell.add(panel, 'left', { rank: 850 });
    restorer?.add(panel, panel.id);

    app.commands.addCommand(CommandIDs.openPanel, {
      label: 'Show CV Ops Panel',
      execute: args => {
        app.shell.activateById(panel.id);
        if (args['refresh']) {
          void panel.refresh();
        }
      }
    });

    const exportFrom = (target: NotebookPanel | null): Promise<unknown> =>
      target ? exportRecipe(app, target, panel.workspace) : showErrorMessage('Export recipe', 'Open a notebook first.');
    app.commands.addCommand(CommandIDs.exportRecipe, {
      label: 'Export Notebook as Retrain Recipe',
      caption: 'Save the notebook and export it as a reproducible retrain recipe',
      isEnabled: () => tracker.currentWidget !== null,
      execute: () => exportFrom(tracker.currentWidget)
    });

    app.docRegistry.addWidgetExtension('Notebook', {
      createNew: (notebook: NotebookPanel) => {
        const exportButton = new ToolbarButton({
          className: 'cvops-export-recipe-button',
          label: 'Recipe',
          tooltip: 'Export Notebook as Retrain Recipe',
          onClick: () => void exportFrom(notebook)
        });
        if (!notebook.toolbar.insertAfter('cellType', 'cvopsExportRecipe', exportButton)) {
          notebook.toolbar.addItem('cvopsExportRecipe', exportButton);
        }
        return exportButton;
      }
    });

    mainMenu?.fileMenu.addGroup([{ command: CommandIDs.exportRecipe }], 40);
    if (palette) {
      palette.addItem({ command: CommandIDs.exportRecipe, category: PALETTE_CATEGORY });
      palette.addItem({ command: CommandIDs.openPanel, category: PALETTE_CATEGORY });
    }
  }
};

export default [plugin, panelPlugin];

/**
 * jupyter-cvops labextension: records dataset snapshots into notebook
 * metadata and exposes the server extension's status as a command.
 * The snapshot card renderer is the package's MIME extension (./mime).
 */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, ICommandPalette, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { SnapshotRecorder, recordSnapshots } from './recorder';
import { type IServerStatus, requestAPI } from './request';
import { CommandIDs, PALETTE_CATEGORY, PLUGIN_ID } from './tokens';

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
      for (const command of Object.values(CommandIDs)) {
        palette.addItem({ command, category: PALETTE_CATEGORY });
      }
    }
  }
};

export default plugin;

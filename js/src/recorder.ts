/**
 * Records every snapshot output of a notebook into its metadata
 * (`metadata.cvops.snapshots`) so that saving writes the provenance into the
 * `.ipynb` itself.
 */
import type { ICodeCellModel } from '@jupyterlab/cells';
import type { INotebookModel, NotebookPanel } from '@jupyterlab/notebook';
import type { IOutputAreaModel } from '@jupyterlab/outputarea';
import { JSONExt, type PartialJSONObject } from '@lumino/coreutils';

import { mergeSnapshots, parseSnapshot } from './snapshot';
import { METADATA_KEY, SNAPSHOT_MIME_TYPE, SNAPSHOTS_FIELD } from './tokens';

function isObject(value: unknown): value is PartialJSONObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Snapshot payloads found in the model's outputs, in output order. */
export function collectSnapshots(model: INotebookModel): PartialJSONObject[] {
  const found: PartialJSONObject[] = [];
  for (const cell of model.cells) {
    if (cell.type !== 'code') {
      continue;
    }
    const outputs = (cell as ICodeCellModel).outputs;
    for (let i = 0; i < outputs.length; i++) {
      const payload = outputs.get(i).data[SNAPSHOT_MIME_TYPE];
      if (parseSnapshot(payload) !== null) {
        found.push(JSONExt.deepCopy(payload as PartialJSONObject));
      }
    }
  }
  return found;
}

/** Snapshots already recorded in the model's metadata. */
export function recordedSnapshots(model: INotebookModel): PartialJSONObject[] {
  const section: unknown = model.getMetadata(METADATA_KEY);
  const list = isObject(section) ? section[SNAPSHOTS_FIELD] : undefined;
  return Array.isArray(list) ? list.filter(isObject) : [];
}

/**
 * Merge the model's snapshot outputs into its metadata.
 *
 * @returns the number of newly recorded snapshots (0 leaves the model untouched,
 * so opening a notebook does not make it dirty).
 */
export function recordSnapshots(model: INotebookModel): number {
  const recorded = recordedSnapshots(model);
  const merged = mergeSnapshots(recorded, collectSnapshots(model));
  if (merged === null) {
    return 0;
  }
  const section: unknown = model.getMetadata(METADATA_KEY);
  const base = isObject(section) ? section : {};
  model.setMetadata(METADATA_KEY, { ...base, [SNAPSHOTS_FIELD]: merged });
  return merged.length - recorded.length;
}

/**
 * Watches notebook panels: records on load and whenever outputs change.
 * Changes arriving in one burst are merged in a single microtask.
 */
export class SnapshotRecorder {
  /** Start watching a panel (idempotent per model). */
  watch(panel: NotebookPanel): void {
    void panel.context.ready.then(() => {
      const model = panel.context.model;
      if (model.isDisposed || this._models.has(model)) {
        return;
      }
      this._models.add(model);
      for (const cell of model.cells) {
        this._watchCell(model, cell.type === 'code' ? (cell as ICodeCellModel) : null);
      }
      model.cells.changed.connect((_, change) => {
        for (const cell of change.newValues) {
          this._watchCell(model, cell.type === 'code' ? (cell as ICodeCellModel) : null);
        }
        this._schedule(model);
      });
      this._schedule(model);
    });
  }

  private _watchCell(model: INotebookModel, cell: ICodeCellModel | null): void {
    if (cell === null || this._outputs.has(cell.outputs)) {
      return;
    }
    this._outputs.add(cell.outputs);
    cell.outputs.changed.connect(() => this._schedule(model));
  }

  private _schedule(model: INotebookModel): void {
    if (this._pending.has(model)) {
      return;
    }
    this._pending.add(model);
    queueMicrotask(() => {
      this._pending.delete(model);
      if (!model.isDisposed) {
        recordSnapshots(model);
      }
    });
  }

  private readonly _models = new WeakSet<INotebookModel>();
  private readonly _outputs = new WeakSet<IOutputAreaModel>();
  private readonly _pending = new Set<INotebookModel>();
}

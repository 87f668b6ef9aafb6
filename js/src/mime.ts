/**
 * MIME renderer extension for `application/vnd.cvops.snapshot+json` (dataset
 * snapshots), `application/vnd.cvops.run+json` (runs) and `application/vnd.cvops.audit+json` (audits).
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

import { parseAudit, renderAuditCard, renderInvalidAuditCard } from './audit';
import { renderInvalidCard, renderSnapshotCard } from './card';
import { parseRun, renderInvalidRunCard, renderRunCard } from './run';
import { parseSnapshot } from './snapshot';
import { AUDIT_MIME_TYPE, MIME_EXTENSION_ID, RUN_MIME_TYPE, SNAPSHOT_MIME_TYPE } from './tokens';

/** Renders one snapshot, run or audit payload as a compact card. */
export class RenderedSnapshot extends Widget implements IRenderMime.IRenderer {
  constructor(options: IRenderMime.IRendererOptions) {
    super();
    this._mimeType = options.mimeType;
    this.addClass('cvops-RenderedSnapshot');
  }

  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    if (this._mimeType === AUDIT_MIME_TYPE) {
      const audit = parseAudit(model.data[this._mimeType]);
      this.node.replaceChildren(audit ? renderAuditCard(audit) : renderInvalidAuditCard());
      return Promise.resolve();
    }
    if (this._mimeType === RUN_MIME_TYPE) {
      const run = parseRun(model.data[this._mimeType]);
      this.node.replaceChildren(run ? renderRunCard(run) : renderInvalidRunCard());
      return Promise.resolve();
    }
    const snapshot = parseSnapshot(model.data[this._mimeType]);
    this.node.replaceChildren(snapshot ? renderSnapshotCard(snapshot) : renderInvalidCard());
    return Promise.resolve();
  }

  private readonly _mimeType: string;
}

/** Factory registered with the rendermime registry. */
export const rendererFactory: IRenderMime.IRendererFactory = {
  safe: true,
  mimeTypes: [SNAPSHOT_MIME_TYPE, RUN_MIME_TYPE, AUDIT_MIME_TYPE],
  createRenderer: options => new RenderedSnapshot(options)
};

const extension: IRenderMime.IExtension = {
  id: MIME_EXTENSION_ID,
  description: 'Renders jupyter-cvops dataset snapshots, runs and audits as compact cards.',
  rendererFactory,
  rank: 0,
  dataType: 'json'
};

export default extension;

/**
 * Identifiers shared by every part of the jupyter-cvops labextension:
 * plugin ids, command ids, the MIME type and the notebook metadata key.
 */

/** Id of the main (notebook metadata + commands) plugin. */
export const PLUGIN_ID = 'jupyter-cvops:plugin';

/** Id of the MIME renderer extension. */
export const MIME_EXTENSION_ID = 'jupyter-cvops:snapshot-renderer';

/** MIME type of the bundle the `%cvops snapshot` magic displays. */
export const SNAPSHOT_MIME_TYPE = 'application/vnd.cvops.snapshot+json';

/** MIME type of the card a `ws.run(...)` run displays (`Run._repr_mimebundle_`). */
export const RUN_MIME_TYPE = 'application/vnd.cvops.run+json';

/** MIME type of the card `ws.audit()` displays (`AuditReport._repr_mimebundle_`). */
export const AUDIT_MIME_TYPE = 'application/vnd.cvops.audit+json';

/** Top-level notebook metadata key owned by jupyter-cvops. */
export const METADATA_KEY = 'cvops';

/** Field under {@link METADATA_KEY} holding the recorded snapshot payloads. */
export const SNAPSHOTS_FIELD = 'snapshots';

/** URL namespace of the server extension, relative to the server base URL. */
export const API_NAMESPACE = 'cvops/api';

/** CSS class of the rendered snapshot card root. */
export const CARD_CLASS = 'cvops-snapshot-card';

/** Extra CSS class of a run card (it shares the snapshot card's look). */
export const RUN_CARD_CLASS = 'cvops-run-card';

/** Extra CSS class of an audit card (it shares the snapshot card's look). */
export const AUDIT_CARD_CLASS = 'cvops-audit-card';

/** Command ids registered by the plugin. */
export const CommandIDs = {
  /** Re-scan the current notebook's outputs and record snapshots into its metadata. */
  recordSnapshots: 'cvops:record-snapshots',
  /** Show the server extension's status (version, workspace roots). */
  serverStatus: 'cvops:server-status',
  /** Save the current notebook and export it as a retrain recipe. */
  exportRecipe: 'cvops:export-recipe',
  /** Show the CV Ops side panel. */
  openPanel: 'cvops:open-panel'
} as const;

/** Id of the CV Ops side panel plugin. */
export const PANEL_PLUGIN_ID = 'jupyter-cvops:panel';

/** Id of the CV Ops side panel widget (left sidebar). */
export const PANEL_ID = 'cvops-panel';

/** Field under {@link METADATA_KEY} holding the notebook's workspace (relative to the notebook's folder). */
export const WORKSPACE_FIELD = 'workspace';

/** Palette category of the commands. */
export const PALETTE_CATEGORY = 'CV Ops';

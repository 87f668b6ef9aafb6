/**
 * The snapshot payload written by `%cvops snapshot`: its type, a validating
 * parser and the merge rule used for notebook metadata.
 */
import type { PartialJSONObject, ReadonlyPartialJSONValue } from '@lumino/coreutils';

/** Image counts per split. */
export interface ISplitCounts {
  train: number;
  val: number;
  test: number;
  [split: string]: number;
}

/** The dataset version a snapshot points to. */
export interface IDatasetVersion {
  id: string;
  name: string | null;
  message: string | null;
  n_images: number;
  n_labels: number;
  splits: ISplitCounts;
}

/** Payload of the `application/vnd.cvops.snapshot+json` MIME bundle. */
export interface ISnapshot {
  run_id: string;
  created_at: string;
  workspace: string;
  dataset_version: IDatasetVersion;
  taxonomy_version: number;
  notebook: string | null;
  kernel: PartialJSONObject;
  env: { python: string; packages: PartialJSONObject };
}

/** Number of characters of a content id shown to people. */
export const SHORT_ID_LENGTH = 12;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asCount(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function asOptionalString(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/**
 * Validate an untrusted MIME payload.
 *
 * Returns `null` when the identifying fields (`run_id`, `dataset_version.id`)
 * are missing; optional fields get neutral defaults so older or partial
 * payloads still render.
 */
export function parseSnapshot(value: ReadonlyPartialJSONValue | undefined): ISnapshot | null {
  if (!isObject(value)) {
    return null;
  }
  const dv = value['dataset_version'];
  if (typeof value['run_id'] !== 'string' || !isObject(dv) || typeof dv['id'] !== 'string') {
    return null;
  }
  const rawSplits = isObject(dv['splits']) ? dv['splits'] : {};
  const splits: ISplitCounts = { train: 0, val: 0, test: 0 };
  for (const [key, count] of Object.entries(rawSplits)) {
    splits[key] = asCount(count);
  }
  const env = isObject(value['env']) ? value['env'] : {};
  return {
    run_id: value['run_id'],
    created_at: asOptionalString(value['created_at']) ?? '',
    workspace: asOptionalString(value['workspace']) ?? '',
    dataset_version: {
      id: dv['id'],
      name: asOptionalString(dv['name']),
      message: asOptionalString(dv['message']),
      n_images: asCount(dv['n_images']),
      n_labels: asCount(dv['n_labels']),
      splits
    },
    taxonomy_version: asCount(value['taxonomy_version']),
    notebook: asOptionalString(value['notebook']),
    kernel: (isObject(value['kernel']) ? value['kernel'] : {}) as PartialJSONObject,
    env: {
      python: asOptionalString(env['python']) ?? '',
      packages: (isObject(env['packages']) ? env['packages'] : {}) as PartialJSONObject
    }
  };
}

/** First {@link SHORT_ID_LENGTH} characters of a content id. */
export function shortId(id: string): string {
  return id.slice(0, SHORT_ID_LENGTH);
}

/**
 * Merge newly seen payloads into the recorded list.
 *
 * Recorded entries are kept as they are (a snapshot stays on record after its
 * output is cleared); payloads whose `run_id` is not yet recorded are appended
 * in the order given, each once.
 *
 * @returns the merged list, or `null` when nothing was added.
 */
export function mergeSnapshots(
  recorded: readonly PartialJSONObject[],
  seen: readonly PartialJSONObject[]
): PartialJSONObject[] | null {
  const known = new Set<string>();
  for (const entry of recorded) {
    if (typeof entry['run_id'] === 'string') {
      known.add(entry['run_id']);
    }
  }
  const merged = [...recorded];
  for (const entry of seen) {
    const runId = entry['run_id'];
    if (typeof runId === 'string' && !known.has(runId)) {
      known.add(runId);
      merged.push(entry);
    }
  }
  return merged.length === recorded.length ? null : merged;
}

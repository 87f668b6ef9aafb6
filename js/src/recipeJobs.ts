/**
 * Recipe re-runs from the CV Ops panel: start a background job on the server
 * (`POST /cvops/api/recipes/retrain`), follow it (`GET jobs/<id>`: status, cells done of
 * total), cancel it (`DELETE jobs/<id>`), and render where it stands: a progress bar with
 * the cell count and a Cancel button, then a green "check passed" or a red
 * "outside tolerance: <diff>" line (or the server's one-line reason).
 */
import { button, el, short, text } from './dom';
import { postAPI, requestAPI } from './request';

/** Cells done of total, the running cell (1-based) and its first line. */
export interface IJobProgress {
  done: number;
  total: number | null;
  cell: number | null;
  source: string;
}

/** One metric of the recipe's expectations against the re-run. */
export interface IComparison {
  metric: string;
  expected: number | null;
  got: number | null;
  diff: number | null;
  tolerance: number | null;
  status: string;
}

/** What a finished re-run reports (see `RetrainResult.to_dict`). */
export interface IJobResult {
  ok: boolean;
  check: boolean;
  run_id: string;
  status: string | null;
  comparison: IComparison[];
  models: { name: string; version: string; note?: string }[];
  proposals: {
    action: string;
    kind?: string;
    model?: string;
    alias?: string;
    name?: string;
    version?: string | null;
  }[];
  executed_notebook: string;
  diff_table: string;
}

/** `GET /cvops/api/jobs/<id>`. */
export interface IJob {
  id: string;
  kind: 'check' | 'retrain';
  recipe: string;
  name: string;
  recipe_id: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  phase: string | null;
  progress: IJobProgress;
  reason: string | null;
  result: IJobResult | null;
  warnings: string[];
  cancel_requested: boolean;
}

/** Whether the job has ended (succeeded, failed or cancelled). */
export function isFinal(job: IJob): boolean {
  return job.status === 'succeeded' || job.status === 'failed' || job.status === 'cancelled';
}

/** Start a re-run of `recipe` (a path relative to the server root): `check` is the reproducibility test. */
export function startRecipeJob(recipe: string, check: boolean, workspace?: string | null): Promise<IJob> {
  const body: Record<string, unknown> = { recipe, check };
  if (workspace) {
    body.workspace = workspace;
  }
  return postAPI<IJob>('recipes/retrain', body);
}

/** Ask the server to cancel the job (the answer is the job as it stands). */
export function cancelJob(id: string): Promise<IJob> {
  return requestAPI<IJob>(`jobs/${id}`, { init: { method: 'DELETE' } });
}

/**
 * Poll the job every `intervalMs` until it ends, calling `update` with each state.
 * Resolves with the final state; rejects when a request fails or `signal` aborts.
 */
export async function followJob(
  id: string,
  update: (job: IJob) => void,
  signal?: AbortSignal,
  intervalMs = 500
): Promise<IJob> {
  for (;;) {
    const job = await requestAPI<IJob>(`jobs/${id}`, { init: { signal } });
    update(job);
    if (isFinal(job)) {
      return job;
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, intervalMs);
      signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(new DOMException('Aborted', 'AbortError'));
      });
    });
  }
}

function metric(row: IComparison): string {
  const got = row.got === null ? 'missing' : text(row.got);
  const tol = row.tolerance ? ` (±${text(row.tolerance)})` : '';
  return `${row.metric} ${text(row.expected)} → ${got}${tol}`;
}

/** The one line a finished job ends with: what it found, or why it stopped. */
export function resultLine(job: IJob): { text: string; ok: boolean | null } {
  const r = job.result;
  if (job.status === 'cancelled') {
    return { text: `Cancelled: ${job.reason ?? 'stopped'}`, ok: null };
  }
  if (r === null) {
    return { text: job.reason ?? `The ${job.kind} failed.`, ok: false };
  }
  const bad = r.comparison.filter(c => c.status === 'outside' || c.status === 'missing');
  if (!r.ok) {
    return { text: `outside tolerance: ${bad.map(metric).join('; ')}`, ok: false };
  }
  const run = `run ${short(r.run_id)}`;
  if (r.check) {
    const same = r.comparison.filter(c => c.status === 'ok').map(c => `${c.metric} ${text(c.got)}`);
    return { text: `check passed: ${run}${same.length ? ' · ' + same.join(', ') : ''}`, ok: true };
  }
  const models = r.models.map(m => `${m.name}:${short(m.version)}${m.note ? ` (${m.note})` : ''}`);
  const proposed = r.proposals.map(p => {
    const what = p.kind === 'dataset' ? `dataset name ${p.name ?? '?'}` : `${p.model ?? '?'}@${p.alias ?? '?'}`;
    return `proposed ${p.action} ${what} → ${short(p.version ?? '-')}`;
  });
  const metrics = r.comparison.map(metric);
  return { text: ['retrained', run, ...models, ...proposed, ...metrics].join(' · '), ok: true };
}

/**
 * The job's box inside a recipe item: while it runs, a progress bar (`done` of `total`
 * cells), the running cell and a Cancel button; once it ended, the result line.
 */
export function renderJob(job: IJob, onCancel: () => void): HTMLElement {
  const box = el('div', `cvops-job cvops-job-${job.status}`);
  box.dataset.job = job.id;
  box.dataset.status = job.status;
  box.dataset.kind = job.kind;
  const title = job.kind === 'check' ? 'Check' : 'Re-run';
  if (!isFinal(job)) {
    const p = job.progress;
    const bar = el('progress', 'cvops-job-bar');
    if (p.total) {
      bar.max = p.total;
      bar.value = p.done;
    }
    const cells = p.total ? `${p.done} / ${p.total} cells` : '';
    const phase = job.cancel_requested ? 'cancelling…' : job.status === 'queued' ? 'queued' :
      job.phase === 'executing' && p.cell ? `cell ${p.cell}: ${p.source}` : (job.phase ?? 'starting');
    const row = el('div', 'cvops-job-progress');
    const cancel = button('Cancel', 'cvops-job-cancel', onCancel, `Stop this ${title.toLowerCase()}`);
    cancel.disabled = job.cancel_requested;
    row.append(bar, el('span', 'cvops-job-count', cells), cancel);
    box.append(el('div', 'cvops-panel-fact', `${title} running: ${phase}`), row);
    return box;
  }
  const line = resultLine(job);
  const result = el('div', `cvops-job-result ${line.ok === true ? 'cvops-job-ok' : line.ok === false ?
    'cvops-job-bad' : 'cvops-job-stopped'}`, line.text);
  result.setAttribute('role', 'status');
  box.append(result);
  if (job.result?.executed_notebook) {
    box.append(el('div', 'cvops-panel-fact cvops-job-notebook', `executed notebook: ${job.result.executed_notebook}`));
  }
  for (const warning of job.warnings) {
    box.append(el('div', 'cvops-panel-fact cvops-job-warning', `warning: ${warning}`));
  }
  return box;
}

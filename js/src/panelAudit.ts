/**
 * The Audit section of the CV Ops side panel: `GET /cvops/api/audit` (`ws.audit().to_dict()`, read-only)
 * as the score, the per-area chips and one row per question: its number, a short form of the question,
 * the yes / partial / no badge and, when not yes, the next step; a row expands to its evidence.
 * Badges, chips and the evidence list are the audit card's (audit.ts), so both look alike. Every
 * workspace value goes in as `textContent`.
 */
import type { ReadonlyPartialJSONValue } from '@lumino/coreutils';

import { answerBadge, areaChips, evidenceList, parseAudit, type IAudit } from './audit';
import { formatCreated } from './card';
import { button, el } from './dom';
import { requestAPI } from './request';
import type { ISectionHost } from './panelSections';

/** Where the section stands: answering, answered, or the server's one-line reason. */
export type AuditState =
  | { status: 'loading' }
  | { status: 'ready'; audit: IAudit }
  | { status: 'error'; message: string };

/** What the Audit section uses of the panel. */
export interface IAuditHost extends Pick<ISectionHost, 'section' | 'insert'> {
  /** Ask the server again. */
  refreshAudit(): void;
}

/** Short forms of the ten questions (the full question is the row's tooltip and shows when expanded). */
const SHORT: Record<number, string> = {
  1: 'Training data version',
  2: 'Prediction → training images',
  3: 'Taxonomy versioned',
  4: 'Reviewer-consistency checks',
  5: 'Same preprocessing',
  6: 'Drift monitoring',
  7: 'One-command retrain',
  8: 'Shadow mode',
  9: 'Working rollback',
  10: 'Retrain from the system'
};

/** A short form of question `number` (the question itself, cut, for an unknown number). */
export function shortQuestion(number: number, question: string): string {
  return SHORT[number] ?? (question.length > 48 ? `${question.slice(0, 47)}…` : question);
}

/** `GET audit?workspace=...`, validated like the audit card's payload. */
export async function fetchAudit(workspace: string, signal: AbortSignal): Promise<IAudit> {
  const body = await requestAPI<ReadonlyPartialJSONValue>('audit', { query: { workspace }, init: { signal } });
  const audit = parseAudit(body);
  if (audit === null) {
    throw new Error('The server answered no audit (missing score or answers).');
  }
  return audit;
}

function renderRow(a: IAudit['answers'][number]): HTMLElement {
  const row = el('li', 'cvops-panel-audit-row');
  row.dataset.number = String(a.number);
  row.dataset.answer = a.answer;
  const more = el('details', 'cvops-panel-audit-more');
  const summary = el('summary', 'cvops-panel-audit-summary');
  const line = el('div', 'cvops-panel-audit-line');
  const question = el('span', 'cvops-panel-audit-question', shortQuestion(a.number, a.question));
  question.title = a.question;
  line.append(el('span', 'cvops-panel-audit-number', `${a.number}.`), question, answerBadge(a.answer));
  summary.append(line);
  if (a.answer !== 'yes' && a.next_step) {
    summary.append(el('div', 'cvops-audit-card-next cvops-panel-audit-next', `Next: ${a.next_step}`));
  }
  more.append(summary, el('div', 'cvops-panel-audit-full', a.question), evidenceList(a.evidence));
  if (typeof a.evidence['show'] === 'string') {
    more.append(el('code', 'cvops-audit-card-show', a.evidence['show']));
  }
  row.append(more);
  return row;
}

/** The Audit section for `state` (`open`: expanded). */
export function renderAudit(host: IAuditHost, state: AuditState, open: boolean): HTMLElement {
  const count = state.status === 'ready' ? `${state.audit.score}/${state.audit.of}` :
    state.status === 'loading' ? '…' : '!';
  const section = host.section('audit', 'Audit', count, open);
  section.dataset.state = state.status;
  const top = el('div', 'cvops-panel-actions');
  top.append(
    button('Refresh', 'cvops-panel-audit-refresh', () => host.refreshAudit(), 'Answer the ten questions again'),
    button('Insert cell', 'cvops-panel-audit-cell', () => host.insert('ws.audit()'),
      'Insert a cell that shows the audit card')
  );
  section.append(top);
  if (state.status === 'loading') {
    section.append(el('p', 'cvops-panel-empty', 'Answering the ten questions…'));
    return section;
  }
  if (state.status === 'error') {
    const error = el('div', 'cvops-panel-audit-error', state.message);
    error.setAttribute('role', 'alert');
    section.append(error);
    return section;
  }
  const audit = state.audit;
  const head = el('div', 'cvops-panel-audit-head');
  const score = el('span', 'cvops-panel-audit-score', `${audit.score}/${audit.of}`);
  score.dataset.score = String(audit.score);
  head.append(score, el('span', 'cvops-panel-fact',
    `yes · ${audit.partial} partial · as of ${audit.as_of ? formatCreated(audit.as_of) : '?'} · @${audit.alias}`));
  const rows = el('ol', 'cvops-panel-audit-rows');
  rows.append(...audit.answers.map(renderRow));
  section.append(head, areaChips(audit.areas), rows);
  return section;
}

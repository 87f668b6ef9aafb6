/**
 * The audit card (`application/vnd.cvops.audit+json`, `AuditReport.to_dict()`): the score, a line per
 * area and one row per question with its answer, the evidence (folded) and the next step. Built with
 * `textContent` only: evidence holds names, paths and messages from the workspace.
 */
import type { ReadonlyPartialJSONValue } from '@lumino/coreutils';

import { formatCreated } from './card';
import { el, text } from './dom';
import { AUDIT_CARD_CLASS, CARD_CLASS } from './tokens';

/** One answered question. */
export interface IAuditAnswer {
  number: number;
  question: string;
  area: string;
  answer: 'yes' | 'partial' | 'no';
  evidence: Record<string, unknown>;
  next_step: string | null;
}

/** One area of the per-area summary. */
export interface IAuditArea {
  area: string;
  yes: number;
  partial: number;
  no: number;
  points: number;
  of: number;
}

/** Payload of the `application/vnd.cvops.audit+json` MIME bundle. */
export interface IAudit {
  as_of: string;
  alias: string;
  score: number;
  of: number;
  partial: number;
  areas: IAuditArea[];
  answers: IAuditAnswer[];
}

const ANSWERS = ['yes', 'partial', 'no'];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function num(value: unknown, fallback = 0): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

/** Validate an untrusted payload; `null` without a score and a list of answers. */
export function parseAudit(value: ReadonlyPartialJSONValue | undefined): IAudit | null {
  if (!isObject(value) || typeof value['score'] !== 'number' || !Array.isArray(value['answers'])) {
    return null;
  }
  const answers = value['answers'].filter(isObject).map(a => ({
    number: num(a['number']),
    question: typeof a['question'] === 'string' ? a['question'] : '?',
    area: typeof a['area'] === 'string' ? a['area'] : '',
    answer: (ANSWERS.includes(a['answer'] as string) ? a['answer'] : 'no') as IAuditAnswer['answer'],
    evidence: isObject(a['evidence']) ? a['evidence'] : {},
    next_step: typeof a['next_step'] === 'string' ? a['next_step'] : null
  }));
  const areas = (Array.isArray(value['areas']) ? value['areas'] : []).filter(isObject).map(x => ({
    area: typeof x['area'] === 'string' ? x['area'] : '?',
    yes: num(x['yes']),
    partial: num(x['partial']),
    no: num(x['no']),
    points: num(x['points']),
    of: num(x['of'])
  }));
  return {
    as_of: typeof value['as_of'] === 'string' ? value['as_of'] : '',
    alias: typeof value['alias'] === 'string' ? value['alias'] : 'production',
    score: value['score'],
    of: num(value['of'], answers.length),
    partial: num(value['partial']),
    areas,
    answers
  };
}

/** The evidence as `key: value` lines (the `show` call apart); also the panel's Audit section. */
export function evidenceList(evidence: Record<string, unknown>): HTMLElement {
  const list = el('dl', `${AUDIT_CARD_CLASS}-evidence`);
  for (const [key, value] of Object.entries(evidence)) {
    if (key === 'show') {
      continue;
    }
    const dd = el('dd', '', text(value) || '-');
    dd.title = dd.textContent ?? '';
    list.append(el('dt', '', key), dd);
  }
  return list;
}

/** The per-area summary chips (`data 1.5/2`, ...); also the panel's Audit section. */
export function areaChips(areas: IAuditArea[]): HTMLElement {
  const row = el('div', `${AUDIT_CARD_CLASS}-areas`);
  for (const area of areas) {
    const chip = el('span', `${AUDIT_CARD_CLASS}-area`, `${area.area} ${area.points}/${area.of}`);
    chip.dataset.area = area.area;
    chip.title = `${area.yes} yes, ${area.partial} partial, ${area.no} no`;
    row.append(chip);
  }
  return row;
}

/** The coloured yes / partial / no badge of an answer; also the panel's Audit section. */
export function answerBadge(answer: IAuditAnswer['answer'], tag: 'td' | 'span' = 'span'): HTMLElement {
  return el(tag, `${AUDIT_CARD_CLASS}-badge ${AUDIT_CARD_CLASS}-${answer}`, answer);
}

/** Build the card for one audit. */
export function renderAuditCard(audit: IAudit): HTMLElement {
  const root = el('div', `${CARD_CLASS} ${AUDIT_CARD_CLASS}`);
  root.dataset.score = String(audit.score);
  root.setAttribute('role', 'group');
  root.setAttribute('aria-label', `Audit ${audit.score} of ${audit.of} yes`);

  const header = el('div', `${CARD_CLASS}-header`);
  header.append(
    el('span', `${CARD_CLASS}-kind`, 'Audit'),
    el('span', `${CARD_CLASS}-name ${AUDIT_CARD_CLASS}-score`, `${audit.score}/${audit.of} yes`),
    el('span', `${AUDIT_CARD_CLASS}-partials`, `${audit.partial} partial`),
    el('span', `${CARD_CLASS}-id`, `as of ${audit.as_of ? formatCreated(audit.as_of) : '?'} · ${audit.alias}`)
  );
  root.append(header);

  root.append(areaChips(audit.areas));

  const table = el('table', `${AUDIT_CARD_CLASS}-answers`);
  for (const a of audit.answers) {
    const row = el('tr', `${AUDIT_CARD_CLASS}-row`);
    row.dataset.number = String(a.number);
    row.dataset.answer = a.answer;
    const detail = el('td', `${AUDIT_CARD_CLASS}-detail`);
    detail.append(el('div', `${AUDIT_CARD_CLASS}-question`, a.question));
    if (a.next_step) {
      detail.append(el('div', `${AUDIT_CARD_CLASS}-next`, `Next: ${a.next_step}`));
    }
    const folded = el('details', `${AUDIT_CARD_CLASS}-more`);
    folded.append(el('summary', '', 'Evidence'), evidenceList(a.evidence));
    if (typeof a.evidence['show'] === 'string') {
      folded.append(el('code', `${AUDIT_CARD_CLASS}-show`, a.evidence['show']));
    }
    detail.append(folded);
    row.append(
      el('td', `${AUDIT_CARD_CLASS}-number`, String(a.number)),
      answerBadge(a.answer, 'td'),
      detail
    );
    table.append(row);
  }
  root.append(table);
  return root;
}

/** Shown instead of an audit card when the payload has no score or answers. */
export function renderInvalidAuditCard(): HTMLElement {
  return el('div', `${CARD_CLASS}-invalid`, 'cvops: this output is not a valid audit (missing score or answers).');
}

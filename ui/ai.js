// The "AI second opinion" panel: offer → preview of exactly what would be sent → sending (with progress and
// Cancel) → the AI's verdict.
//
// Design: one small state machine per shown check. Nothing is sent before the person has seen the redacted text
// and pressed Send, unless their settings say "ask without confirming" (ai.auto), and even then the preview is
// shown. A verdict from an ask that the person has since moved away from (new text, cancel) is dropped, never
// shown over newer text. The merged verdict comes back as a whole Check and is drawn by app.js, like any other.

import { aiPreview, aiAsk, aiCancel, onAiProgress } from './api.js';
import { labelIcon, labelKey, percent, showLlmReason } from './render.js';

const $ = (id) => document.getElementById(id);

const STAGES = {
  sending: () => 'Sending the redacted text…',
  waiting: (model) => `Waiting for ${model || 'the AI'} to answer…`,
  merging: () => 'Combining both verdicts…',
};
const stageText = (stage) => STAGES[stage]?.(preview?.model) ?? `${stage}…`;

let hooks = { onCheck: () => {}, onError: () => {}, ensureCheck: async () => null };
let check = null; // the Check the panel is about
let phase = 'idle'; // idle | preparing | preview | sending
let pendingId = null; // check id of the ask in flight
let preview = null;
let epoch = 0; // bumped whenever the person moves on; an await that comes back to a different epoch is stale
const autoAsked = new Set(); // check ids already sent automatically: never twice

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(id, text, onClick, className = '') {
  const b = el('button', className, text);
  b.type = 'button';
  b.id = id;
  b.addEventListener('click', onClick);
  return b;
}

const body = (...children) => $('ai-body').replaceChildren(...children);

// Focus follows the panel's buttons only when the person is working in the panel (a removed button leaves
// focus on <body>); Escape pressed while typing must not pull them out of the text.
const panelHasFocus = () => $('ai-panel').contains(document.activeElement) || document.activeElement === document.body;

/** "at most" rounds up, so a tiny cost never reads as $0.0000. */
export function formatUsd(usd, { atMost = false } = {}) {
  const v = atMost ? Math.ceil(usd * 1e4) / 1e4 : Math.round(usd * 1e4) / 1e4;
  if (v === 0) return '< $0.0001';
  const s = v.toFixed(4).replace(/0+$/, '');
  return '$' + (s.split('.')[1].length < 2 ? v.toFixed(2) : s);
}

export async function initAi(h) {
  hooks = h;
  await onAiProgress(({ check_id, stage }) => {
    if (phase === 'sending' && check_id === pendingId) $('ai-progress-text').textContent = stageText(stage);
  });
}

// Whether a saved check is to be sent right away ("Ask without confirming"); each check id at most once.
const autoAskDue = (next, committed) =>
  next.ai?.state === 'offered' && next.ai.auto && committed && next.check_id != null && !autoAsked.has(next.check_id);

/** Draws the panel for a freshly rendered Check. `committed`: it came from a saved check (auto-ask allowed). */
export function renderAi(next, { committed = false } = {}) {
  const sameCheck = next?.check_id != null && next.check_id === check?.check_id;
  if (phase !== 'idle' && sameCheck && next.ai?.state !== 'done') {
    check = next; // a re-check of the same text: leave the preview or the progress where it is
    return;
  }
  drop();
  check = next;
  const a = next.analysis;
  const ai = next.ai ?? { state: 'unavailable', reason: '' };
  $('ai-panel').hidden = false;
  if (a.llm) return body(...doneView(a, ai));
  if (ai.state === 'offered') {
    body(...offerView(ai.reason));
    if (autoAskDue(next, committed)) {
      autoAsked.add(next.check_id);
      start(true);
    }
    return;
  }
  const status = el('p', ai.state === 'not_needed' ? 'small muted' : 'ai-status', ai.reason);
  status.id = 'ai-status';
  body(status);
}

/**
 * The save after a typing pause confirmed the verdict on screen. If the person is already previewing or sending,
 * leave the panel alone (only learn the id if we had none). When idle with the same offer on screen, only take
 * the new check: that save is often the textarea's blur on mousedown over "Ask AI", and its answer can arrive
 * before mouseup; redrawing would replace the button under the pointer and the click would be lost.
 * Otherwise draw it as usual.
 */
export function adoptAi(next) {
  if (phase === 'idle') {
    const same = check && next.ai?.state === check.ai?.state && next.ai?.reason === check.ai?.reason;
    if (same && !autoAskDue(next, true)) {
      check = next;
      return;
    }
    return renderAi(next, { committed: true });
  }
  if (check?.check_id == null) check = next;
}

/** History shows a stored verdict: the AI's part when there was one, no panel otherwise. */
export function renderStoredAi(analysis) {
  drop();
  check = null;
  $('ai-panel').hidden = !analysis.llm;
  if (analysis.llm) body(...doneView(analysis, { reason: '' }));
}

/** Escape: cancels a send in flight, or closes the preview. True when there was something to cancel. */
export function cancelAi() {
  if (phase === 'sending') {
    $('ai-progress-text').textContent = 'Cancelling…';
    aiCancel(pendingId).catch(() => {}); // the pending ask rejects with kind 'cancelled'; handled there
    return true;
  }
  if (phase === 'preparing' || phase === 'preview') {
    const focusHere = panelHasFocus();
    phase = 'idle';
    epoch++;
    body(...offerView(check?.ai?.reason ?? '', 'Nothing was sent.'));
    if (focusHere) $('ask-ai').focus();
    return true;
  }
  return false;
}

/** Forgets any ask in flight (new text, a history item, Clear); a running request is cancelled quietly. */
export function drop() {
  if (phase === 'sending' && pendingId != null) aiCancel(pendingId).catch(() => {});
  phase = 'idle';
  pendingId = null;
  preview = null;
  epoch++;
}

function offerView(reason, note) {
  const views = [];
  const status = el('p', 'ai-status', reason);
  status.id = 'ai-status';
  views.push(status, button('ask-ai', 'Ask AI for a second opinion', () => start(false), 'primary'));
  if (note) views.push(el('p', 'small muted ai-note', note));
  return views;
}

function spinnerLine(id, text) {
  const p = el('p', 'progress');
  const span = el('span', '', text);
  span.id = id;
  p.append(el('span', 'spinner'), span);
  p.firstChild.setAttribute('aria-hidden', 'true');
  return p;
}

function previewView(p, sending = false) {
  const lead = el('p');
  const model = el('strong', '', p.model);
  const endpoint = el('code', '', p.endpoint);
  lead.append(sending ? 'This exact text is being sent to ' : 'This exact text will be sent to ', model, ' at ', endpoint,
    ' — personal details replaced:');
  const pre = el('pre', '', p.redacted);
  pre.id = 'ai-preview';
  pre.tabIndex = 0;
  const n = Number(p.redactions) || 0;
  const facts = el('p', 'small', `${n} ${n === 1 ? 'detail' : 'details'} removed.`);
  if (p.truncated) facts.append(' The text was shortened to fit the AI’s limit.');
  const cost = el('p', 'small', p.estimate_usd > 0
    ? `Estimated cost: at most ${formatUsd(p.estimate_usd, { atMost: true })}.`
    : 'Estimated cost: free (local server).');
  return [lead, pre, facts, cost];
}

async function start(auto) {
  const mine = ++epoch;
  phase = 'preparing';
  body(spinnerLine('ai-progress-text', 'Preparing what would be sent…'));
  try {
    let id = check.check_id;
    if (id == null) {
      // Live checks while typing may have no id yet; save this text first so the AI knows what to look at.
      const saved = await hooks.ensureCheck();
      if (mine !== epoch) return;
      if (saved) check = saved;
      id = check.check_id;
      if (id == null) throw { kind: 'internal', message: 'This check could not be prepared for the AI. Try again.' };
    }
    const p = await aiPreview(id);
    if (mine !== epoch) return;
    preview = p;
    if (auto) return send(id, true);
    phase = 'preview';
    const yes = button('ai-send', 'Send', () => send(id, false), 'primary');
    const no = button('ai-dont-send', 'Don’t send', cancelAi);
    const row = el('div', 'actions');
    row.append(yes, no);
    body(...previewView(p), row);
    yes.focus();
  } catch (err) {
    if (mine !== epoch) return;
    phase = 'idle';
    body(...offerView(check?.ai?.reason ?? ''));
    hooks.onError(err);
  }
}

async function send(id, auto) {
  const hadFocus = panelHasFocus();
  const mine = auto ? epoch : ++epoch;
  phase = 'sending';
  pendingId = id;
  const cancel = button('ai-cancel', 'Cancel (Esc)', cancelAi);
  const heading = el('p', 'small muted', auto ? 'Asking the AI automatically, as set in Settings.' : '');
  body(...(auto ? [heading] : []), spinnerLine('ai-progress-text', stageText('sending')), cancel, ...previewView(preview, true));
  if (hadFocus) cancel.focus();
  try {
    const merged = await aiAsk(id);
    if (mine !== epoch) return; // the person moved on
    phase = 'idle';
    pendingId = null;
    hooks.onCheck(merged);
  } catch (err) {
    if (mine !== epoch) return;
    phase = 'idle';
    pendingId = null;
    const cancelled = err?.kind === 'cancelled';
    const focusHere = panelHasFocus();
    body(...offerView(check?.ai?.reason ?? '', cancelled ? 'Cancelled; this is the local verdict.' : ''));
    if (focusHere) $('ask-ai').focus();
    if (!cancelled) hooks.onError(err);
  }
}

function doneView(a, ai) {
  const llm = a.llm;
  const views = [];
  const verdict = el('p', 'ai-verdict');
  const chip = el('span', 'chip');
  chip.dataset.label = llm.label;
  chip.append(labelIcon(labelKey(llm.label)), a.advice?.second_opinion ?? llm.label);
  verdict.append('The AI says: ', chip, ` ${percent(llm.score)}% scam likelihood.`);
  views.push(verdict);

  if (llm.reasons?.length) {
    const list = el('ul', 'ai-reasons');
    llm.reasons.forEach((r, i) => {
      const item = el('li', '', r.reason);
      if (r.quote) {
        item.append(' ');
        item.append(el('q', 'quote', r.quote));
      }
      if (r.evidence) {
        const show = el('button', 'link-button', 'Show in text');
        show.type = 'button';
        show.addEventListener('click', () => showLlmReason(i, show));
        item.append(' ', show);
      }
      list.append(item);
    });
    views.push(list);
  }
  const cost = Number(llm.cost_usd) > 0 ? formatUsd(Number(llm.cost_usd)) : 'no charge';
  views.push(el('p', 'small muted', `Model: ${llm.model} · Cost: ${cost}`));
  const outcome = a.escalation?.outcome || ai.reason;
  if (outcome) views.push(el('p', 'small', outcome));
  return views;
}

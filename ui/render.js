// Draws an Analysis into the Check view's result panel: verdict and gauge, red flags, the person's own text with
// the evidence highlighted (and, for a screenshot or photo, the image with each red flag's words boxed), and what
// to do next.
//
// Design: the static skeleton lives in index.html; this module only fills it. User text is only ever set with
// textContent or as text nodes (never innerHTML), so a posting cannot inject markup. Overlapping evidence is drawn
// as flat <mark> segments (see spans.js); each mark lists every flag covering it in data-flag-id (space separated,
// so `[data-flag-id~="id"]` selects it). A small controller remembers, per flag, where each piece of evidence
// starts, so pressing a flag again walks to its next piece of evidence.

import { locate, segment } from './spans.js';

const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';

// The words (verdict, score, next steps) are the core's: every Analysis carries them in `advice`, the same ones
// the CLI prints and the bridge replies with. Only the label's key ('scam', 'uncertain', 'legit') is read here, to
// pick an icon and a colour.
const LABELS = ['scam', 'uncertain', 'legit'];

/** The label key to style `label` with; anything unknown is shown as unsure. */
export function labelKey(label) {
  return LABELS.includes(label) ? label : 'uncertain';
}

const ICONS = {
  scam: ['M8 2h8l6 6v8l-6 6H8l-6-6V8z', 'M12 6.5v7', 'M12 16.8v.4'],
  uncertain: ['M12 2.5 22.5 21h-21z', 'M9.8 10a2.3 2.3 0 1 1 3.3 2.1c-.7.3-1.1.9-1.1 1.6v.6', 'M12 17.6v.4'],
  legit: ['M12 2a10 10 0 1 1 0 20 10 10 0 0 1 0-20z', 'M7 12.5l3.2 3.2L17 9'],
};

const TIER_WORDS = { rules: 'built-in rules', model: 'the on-device model', llm: 'the AI' };

/** Builds an SVG element; attributes are presentation attributes, which the CSP allows (unlike style="..."). */
export function svg(name, attrs = {}, children = []) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

export function labelIcon(label) {
  const paths = (ICONS[label] ?? ICONS.uncertain).map((d, i) => svg('path', { d, class: i ? 'icon-mark' : 'icon-shape' }));
  return svg('svg', { viewBox: '0 0 24 24', class: 'label-icon', 'aria-hidden': 'true', focusable: 'false' }, paths);
}

// Shown between 1 and 99: a calibrated probability is never certainty, and "100%" would read as a guarantee.
export const percent = (score) => Math.min(99, Math.max(1, Math.round((Number(score) || 0) * 100)));

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// ---- Empty state and banner ----

export function renderEmpty(message) {
  $('result-body').hidden = true;
  $('empty-state').hidden = false;
  if (message) $('empty-text').textContent = message;
  showBanner(null);
  highlights.reset();
}

export function showBanner(text) {
  $('history-banner').hidden = !text;
  $('history-banner-text').textContent = text ?? '';
}

// ---- Verdict ----

function renderVerdict(a) {
  const label = labelKey(a.label);
  const verdict = $('verdict');
  verdict.dataset.label = a.label;
  verdict.replaceChildren(labelIcon(label), el('span', 'verdict-words', a.advice?.verdict ?? ''));

  const pct = percent(a.score);
  const gauge = $('gauge');
  gauge.dataset.label = label;
  gauge.setAttribute('aria-valuenow', String(pct));
  gauge.setAttribute('aria-valuetext', `${pct}% likely to be a scam`);
  // A semicircle of radius 48; pathLength=100 lets the dash length be the percentage itself.
  const arc = 'M12 62 A48 48 0 0 1 108 62';
  gauge.replaceChildren(svg('svg', { viewBox: '0 0 120 74', 'aria-hidden': 'true', focusable: 'false' }, [
    svg('path', { d: arc, pathLength: 100, class: 'gauge-track' }),
    svg('path', { d: arc, pathLength: 100, class: pct ? 'gauge-value' : 'gauge-value zero', 'stroke-dasharray': `${pct} 100` }),
    svg('text', { x: 60, y: 56, 'text-anchor': 'middle', 'font-size': 24, class: 'gauge-pct' }, [`${pct}%`]),
    svg('text', { x: 60, y: 72, 'text-anchor': 'middle', 'font-size': 10, class: 'gauge-caption' }, ['scam likelihood']),
  ]));

  // The label says whether Redflag decided: the band differs by kind of text, so no fixed score means "sure".
  const sure = a.label !== 'uncertain';
  $('confidence').textContent = sure ? 'Redflag is confident.' : 'Redflag is not sure.';
  $('confidence').dataset.sure = String(sure);
  $('summary').textContent = a.summary ?? '';
  const tiers = (a.tiers ?? []).map((t) => TIER_WORDS[t] ?? t);
  $('tiers').textContent = tiers.length ? `Checked by ${joinWords(tiers)}.` : '';
}

// ---- Announcement: one short sentence in #verdict-announce, the verdict's only live region ----

let announceTimer = 0;

/** Says the verdict of `a` to screen readers; null empties the region. app.js decides when it is worth saying. */
export function announceVerdict(a) {
  const node = $('verdict-announce');
  clearTimeout(announceTimer);
  // Emptied first and filled a moment later: the same sentence set again (the same posting pasted twice) is
  // otherwise not read again.
  node.textContent = '';
  if (!a) return;
  const n = a.flags?.length ?? 0;
  const flags = n ? `${n} red ${n === 1 ? 'flag' : 'flags'}` : 'no red flags';
  const sentence = `${a.advice?.verdict ?? ''}, ${percent(a.score)}% scam likelihood, ${flags}.`;
  announceTimer = setTimeout(() => { node.textContent = sentence; }, 100);
}

function joinWords(words) {
  return words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`;
}

// ---- Highlights: the text with evidence marks, and jumping between them ----

const highlights = {
  entries: new Map(), // id → [{start, all: [mark...], reason?}] in text order
  cursor: new Map(), // id → how many times its flag was pressed
  origin: null, // the button that last sent focus into the text

  reset() {
    this.entries = new Map();
    this.cursor = new Map();
    this.origin = null;
  },

  count(id) {
    return this.entries.get(id)?.length ?? 0;
  },

  /** Shows the next (or the given) piece of evidence for `id`; returns {index, count} or null. */
  show(id, origin, index) {
    const list = this.entries.get(id);
    if (!list?.length) return null;
    const i = index ?? (this.cursor.get(id) ?? 0) % list.length;
    if (index === undefined) this.cursor.set(id, i + 1);
    const entry = list[i];
    const reduced = matchMedia('(prefers-reduced-motion: reduce)').matches;
    entry.all[0].scrollIntoView({ block: 'center', behavior: reduced ? 'auto' : 'smooth' });
    for (const mark of entry.all) {
      mark.classList.remove('flash');
      void mark.offsetWidth; // restart the animation when the same evidence is shown twice in a row
      mark.classList.add('flash');
    }
    entry.all[0].focus({ preventScroll: true });
    this.origin = origin ?? null;
    return { index: i, count: list.length };
  },
};

export const showEvidence = (id, origin, index) => highlights.show(id, origin, index);

/** Shows the place the AI's reason number `reason` quotes, if it was found in the text. */
export function showLlmReason(reason, origin) {
  const i = highlights.entries.get('llm')?.findIndex((e) => e.reason === reason) ?? -1;
  return i >= 0 ? highlights.show('llm', origin, i) : null;
}

/** Everything with evidence in the text besides red flags: reassurances ("ok:" ids) and the model's words ("word:"). */
function signalsOf(a) {
  return [
    ...(a.reassurances ?? []).map((r) => ({ id: `ok:${r.id}`, title: r.title, explanation: r.explanation, evidence: r.evidence })),
    ...(a.model_words ?? []).map((w) => ({
      id: `word:${w.word}`,
      title: `“${w.evidence?.[0]?.snippet ?? w.word}”`,
      explanation: 'The on-device model reads this word as typical of scams.',
      evidence: w.evidence,
    })),
  ];
}

function renderText(a, fallbackText, titles) {
  const text = typeof a.text === 'string' ? a.text : fallbackText ?? '';
  const items = [];
  for (const flag of [...(a.flags ?? []), ...signalsOf(a)]) {
    for (const ev of flag.evidence ?? []) items.push({ id: flag.id, start: ev.start, end: ev.end, snippet: ev.snippet });
  }
  (a.llm?.reasons ?? []).forEach((r, reason) => {
    if (r.evidence) items.push({ id: 'llm', start: r.evidence.start, end: r.evidence.end, snippet: r.evidence.snippet, reason });
  });
  const ranges = locate(text, items);
  const entries = new Map(ranges.map((r) => [r, { start: r.start, all: [], reason: items[r.n].reason }]));

  const view = $('text-view');
  const frag = document.createDocumentFragment();
  for (const seg of segment(text, ranges)) {
    const part = text.slice(seg.start, seg.end);
    if (!seg.ids.length) {
      frag.append(part);
      continue;
    }
    const mark = el('mark', 'ev', part);
    const flagIds = seg.ids.filter((id) => id !== 'llm' && !id.includes(':'));
    mark.dataset.flagId = seg.ids.join(' ');
    mark.tabIndex = -1;
    mark.title = seg.ids.map((id) => titles.get(id)).join('\n');
    mark.classList.toggle('llm', seg.ids.includes('llm'));
    mark.classList.toggle('llm-only', !flagIds.length && seg.ids.includes('llm'));
    mark.classList.toggle('ok-only', !flagIds.length && seg.ids.some((id) => id.startsWith('ok:')));
    mark.classList.toggle('word-only', !flagIds.length && seg.ids.every((id) => id.startsWith('word:')));
    mark.classList.toggle('multi', flagIds.length > 1);
    for (const r of ranges) if (r.start <= seg.start && r.end >= seg.end) entries.get(r).all.push(mark);
    frag.append(mark);
  }
  view.replaceChildren(frag);
  view.scrollTop = 0;

  highlights.reset();
  for (const [r, entry] of entries) {
    if (!highlights.entries.has(r.id)) highlights.entries.set(r.id, []);
    highlights.entries.get(r.id).push(entry);
  }
  for (const list of highlights.entries.values()) list.sort((x, y) => x.start - y.start);
}

// ---- Flags ----

function whereText(count, shown) {
  if (!count) return 'Not shown in the text.';
  if (shown) return `Showing ${shown.index + 1} of ${count}${count > 1 ? ' — press again for the next' : ''}.`;
  return count === 1 ? 'Show it in your text.' : `Show it in your text (${count} places).`;
}

function flagButtons(flags) {
  return flags.map((flag) => {
    const button = el('button', 'flag');
    button.type = 'button';
    button.dataset.flagId = flag.id;
    const where = el('span', 'flag-where', whereText(highlights.count(flag.id)));
    button.append(el('strong', 'flag-title', flag.title), el('span', 'flag-explanation', flag.explanation), where);
    button.addEventListener('click', () => {
      const shown = highlights.show(flag.id, button);
      if (shown) where.textContent = whereText(shown.count, shown);
      flashBoxes(flag.id);
    });
    const item = el('li');
    item.append(button);
    return item;
  });
}

function renderFlags(a) {
  const flags = a.flags ?? [];
  $('flags').replaceChildren(...flagButtons(flags));
  $('flags').hidden = !flags.length;
  $('no-flags').hidden = flags.length > 0;
  // Without a red flag, "not sure" comes from the wording alone: say so plainly instead of "no red flags".
  $('no-flags').textContent = a.label === 'uncertain'
    ? 'No specific warning sign found. The wording resembles known scams, so check who sent it before you reply, pay or send documents.'
    : 'No red flags found.';
  const signals = signalsOf(a);
  const ok = signals.filter((s) => s.id.startsWith('ok:'));
  const words = signals.filter((s) => s.id.startsWith('word:'));
  $('reassurances').replaceChildren(...flagButtons(ok));
  $('reassure-card').hidden = !ok.length;
  $('model-words').replaceChildren(...flagButtons(words));
  $('wording-card').hidden = !words.length;
}

// ---- The image: a screenshot or photo, with each red flag's words boxed where they were read ----

/** Draws the checked image with the red flags' boxes (image pixels, from the core's OCR) laid over it in
 * percentages, so they stay on their words at any size. Hidden when the check was not of an image, or the image
 * is not at hand (a history item keeps no image). */
function renderImage(a, image) {
  const card = $('image-card');
  const info = a.input;
  if (!image || info?.kind !== 'image' || !info.width || !info.height) {
    card.hidden = true;
    $('image-shot').removeAttribute('src');
    $('image-boxes').replaceChildren();
    return;
  }
  $('image-shot').src = image;
  const boxes = [];
  for (const flag of a.flags ?? []) {
    for (const ev of flag.evidence ?? []) {
      for (const b of ev.boxes ?? []) {
        const box = el('div', 'img-box');
        box.dataset.flagId = flag.id;
        box.title = flag.title;
        // CSSOM, not a style attribute: the page's CSP allows the one and refuses the other.
        box.style.left = `${(b.x / info.width) * 100}%`;
        box.style.top = `${(b.y / info.height) * 100}%`;
        box.style.width = `${(b.w / info.width) * 100}%`;
        box.style.height = `${(b.h / info.height) * 100}%`;
        boxes.push(box);
      }
    }
  }
  $('image-boxes').replaceChildren(...boxes);
  $('image-note').textContent = boxes.length
    ? 'The red flags are marked where Redflag read them. Press a red flag to see it.'
    : 'Redflag read the text below from this image.';
  card.dataset.boxes = String(boxes.length);
  card.hidden = false;
}

/** Brings the first box of flag `id` into view and makes all of its boxes blink. */
function flashBoxes(id) {
  const boxes = [...$('image-boxes').querySelectorAll(`[data-flag-id="${CSS.escape(id)}"]`)];
  if (!boxes.length || $('image-card').hidden) return;
  const reduced = matchMedia('(prefers-reduced-motion: reduce)').matches;
  boxes[0].scrollIntoView({ block: 'center', behavior: reduced ? 'auto' : 'smooth' });
  for (const box of boxes) {
    box.classList.remove('flash');
    void box.offsetWidth;
    box.classList.add('flash');
  }
}

function renderNextSteps(a) {
  const steps = a.advice?.steps ?? [];
  $('next-heading').textContent = a.advice?.heading ?? '';
  $('next-steps').dataset.label = a.label;
  $('next-steps').replaceChildren(...steps.map((s) => el('li', '', s)));
  const notes = a.notes ?? [];
  $('notes').replaceChildren(...notes.map((n) => el('li', '', n)));
  $('notes').hidden = !notes.length;
}

/** Renders everything but the AI panel. `fallbackText` is shown when the analysis carries no text; `image` (a data
 * URL) is the screenshot or photo that was checked, if it was one. */
export function renderAnalysis(a, { fallbackText, image } = {}) {
  const titles = new Map([...(a.flags ?? []), ...signalsOf(a)].map((f) => [f.id, f.title]));
  titles.set('llm', 'The AI pointed at this');
  renderVerdict(a);
  renderText(a, fallbackText, titles);
  renderFlags(a);
  renderImage(a, image);
  renderNextSteps(a);
  $('empty-state').hidden = true;
  $('result-body').hidden = false;
}

// Marks are focusable only by script: Enter or Escape goes back to the flag that led there, and clicking a mark
// points at the flag that explains it.
export function wireTextView() {
  const view = $('text-view');
  view.addEventListener('keydown', (e) => {
    if ((e.key === 'Enter' || e.key === 'Escape') && e.target.matches('mark') && highlights.origin?.isConnected) {
      e.preventDefault();
      e.stopPropagation();
      highlights.origin.focus();
    }
  });
  view.addEventListener('click', (e) => {
    const mark = e.target.closest('mark[data-flag-id]');
    const id = mark?.dataset.flagId.split(' ').find((x) => x !== 'llm');
    const button = id && document.querySelector(`.flag[data-flag-id="${CSS.escape(id)}"]`);
    if (!button) return;
    button.scrollIntoView({ block: 'nearest' });
    button.classList.remove('flash');
    void button.offsetWidth;
    button.classList.add('flash');
  });
  view.addEventListener('animationend', (e) => e.target.classList.remove('flash'));
  for (const list of ['flags', 'reassurances', 'model-words', 'image-boxes']) {
    $(list).addEventListener('animationend', (e) => e.target.classList.remove('flash'));
  }
}

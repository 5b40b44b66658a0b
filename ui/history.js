// History view: past checks (already redacted by the backend), searchable, each openable in the Check view or
// deletable; export to JSON; delete all behind an inline confirmation.
//
// Design: the list is reloaded whenever the tab opens and on search (debounced, stale answers dropped), so it
// never needs to be kept in sync by hand. Text comes from the person's messages, so it is set with textContent.

import { historyList, historyGet, historyDelete, historyClear, historyExport } from './api.js';
import { labelIcon, labelKey, percent } from './render.js';
import { currentSettings } from './settings.js';

const $ = (id) => document.getElementById(id);
let hooks = { onOpen: () => {}, onError: () => {} };
let seq = 0;
let searchTimer = 0;
let count = 0;

export const formatDate = (unixSeconds) =>
  new Date(unixSeconds * 1000).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function itemView(entry) {
  const li = el('li', 'history-item');
  li.dataset.id = String(entry.id);
  const head = el('div', 'history-head');
  const time = el('time', 'history-date', formatDate(entry.created_at));
  time.dateTime = new Date(entry.created_at * 1000).toISOString();
  const chip = el('span', 'chip');
  chip.dataset.label = entry.label;
  chip.append(labelIcon(labelKey(entry.label)), entry.verdict ?? entry.label);
  head.append(chip, el('span', 'history-score', `${percent(entry.score)}%`), time);
  if (entry.channel && entry.channel !== 'desktop') head.append(el('span', 'history-channel muted', entry.channel));

  const text = (entry.text ?? '').replace(/\s+/g, ' ').trim();
  const excerpt = el('p', 'history-text', text.length > 140 ? `${text.slice(0, 140).trimEnd()}…` : text);
  const flags = entry.flags?.length ? el('p', 'history-flags small muted', entry.flags.join(' · ')) : null;

  const actions = el('div', 'history-actions');
  const open = el('button', 'history-open', 'Open');
  open.type = 'button';
  open.setAttribute('aria-label', `Open the check from ${time.textContent}`);
  open.addEventListener('click', () => openEntry(entry));
  const del = el('button', 'history-delete', 'Delete');
  del.type = 'button';
  del.setAttribute('aria-label', `Delete the check from ${time.textContent}`);
  del.addEventListener('click', () => deleteEntry(entry, li));
  actions.append(open, del);

  li.append(head, excerpt, ...(flags ? [flags] : []), actions);
  return li;
}

async function openEntry(entry) {
  const t0 = performance.now();
  try {
    hooks.onOpen(await historyGet(entry.id), entry, t0);
  } catch (err) {
    hooks.onError(err);
  }
}

async function deleteEntry(entry, li) {
  try {
    if (!(await historyDelete(entry.id))) return loadHistory(); // already gone: show what is there
    const next = li.nextElementSibling ?? li.previousElementSibling;
    li.remove();
    showCount(--count);
    status('Deleted.');
    (next?.querySelector('.history-open') ?? $('history-search')).focus();
  } catch (err) {
    hooks.onError(err);
  }
}

function showCount(n) {
  const query = $('history-search').value.trim();
  $('history-empty').hidden = n > 0;
  $('history-empty').textContent = query
    ? `No saved checks match “${query}”.`
    : 'No saved checks yet. Checks you paste or open are kept here, with personal details removed.';
  $('history-export').disabled = $('history-clear').disabled = n === 0 && !query;
}

const status = (text) => { $('history-status').textContent = text; };

export async function loadHistory() {
  const mine = ++seq;
  const off = currentSettings()?.history_enabled === false;
  $('history-note').hidden = !off;
  $('history-note').textContent = off ? 'History is off, so new checks are not kept. You can turn it on in Settings.' : '';
  try {
    const entries = await historyList($('history-search').value.trim(), 200);
    if (mine !== seq) return;
    count = entries.length;
    $('history-list').replaceChildren(...entries.map(itemView));
    showCount(count);
  } catch (err) {
    if (mine === seq) hooks.onError(err);
  }
}

function confirmClear(show) {
  $('history-confirm').hidden = !show;
  if (show) {
    $('history-confirm-text').textContent = `Delete all ${count} saved ${count === 1 ? 'check' : 'checks'}? This cannot be undone.`;
    $('history-clear-no').focus(); // the safe choice has focus
  }
}

export function initHistory(h) {
  hooks = h;
  $('history-search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(loadHistory, 250);
  });
  $('history-export').addEventListener('click', async () => {
    status('');
    try {
      const { path, count: n } = await historyExport();
      status(`Saved ${n} ${n === 1 ? 'check' : 'checks'} to ${path}`);
    } catch (err) {
      hooks.onError(err);
    }
  });
  $('history-clear').addEventListener('click', () => confirmClear(true));
  $('history-clear-no').addEventListener('click', () => {
    confirmClear(false);
    $('history-clear').focus();
  });
  $('history-confirm').addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.stopPropagation();
      $('history-clear-no').click();
    }
  });
  $('history-clear-yes').addEventListener('click', async () => {
    confirmClear(false);
    try {
      const n = await historyClear();
      status(`Deleted ${n} ${n === 1 ? 'check' : 'checks'}.`);
      await loadHistory();
      $('history-search').focus();
    } catch (err) {
      hooks.onError(err);
    }
  });
}

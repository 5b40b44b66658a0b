// Redflag's window: tabs, the input side of the Check view, keyboard shortcuts, file open and drop, errors.
//
// Design: every way in (paste, typing, file, drop, clipboard, AI answer, history item) ends in show(), which
// draws one Check. Requests are numbered and only the newest may draw, so a slow answer never overwrites a
// newer one. Typing gives live verdicts (not saved); a pause, leaving the field, or a paste saves the check to
// the history once. Screen readers hear one sentence (#verdict-announce) when the label changes or a paste, file,
// clipboard check or AI answer completes, not the whole card on every keystroke. Tests read body[data-ready], and
// #verdict's data-ms (event → drawn) and data-seq.

import * as api from './api.js';
import { renderAnalysis, renderEmpty, showBanner, wireTextView, announceVerdict } from './render.js';
import { initAi, renderAi, adoptAi, renderStoredAi, cancelAi, drop as dropAi } from './ai.js';
import { initHistory, loadHistory, formatDate } from './history.js';
import { initSettings, loadSettings, applyPrefs, textSize } from './settings.js';
import { initReport, showReport } from './report.js';

const $ = (id) => document.getElementById(id);
const caps = api.capabilities();
const input = $('input');
const TABS = ['check', 'history', 'settings'];
// The web version asks a shared server, so live checks while typing wait a little longer between keystrokes.
const LIVE_DELAY = caps.desktop ? 250 : 800;
const SAVE_DELAY = 1500;
const MAX_FILE = 25 * 1024 * 1024;
const EMPTY_TEXT = caps.desktop
  ? 'Paste a message to check it. Nothing leaves your computer.'
  : 'Paste a message to check it. It is sent to the Redflag server to be checked.';

const state = {
  request: 0, // number of the newest request; older answers are dropped
  renders: 0,
  check: null, // the Check on screen (null: empty or a history item)
  signature: '', // what is on screen, to skip redrawing an identical verdict
  shownText: null, // the textarea text that verdict is for
  savedText: null, // the text last saved to the history
  label: null, // the label last announced, or null when nothing is
};
let liveTimer = 0;
let saveTimer = 0;
let pasting = false;

function stopTimers() {
  clearTimeout(liveTimer);
  clearTimeout(saveTimer);
}

// ---- Alerts ----

function showError(err) {
  const message = err?.message || 'Something went wrong. Please try again.';
  if (err?.kind === 'auth' && !caps.desktop) showKeyForm();
  $('alert-text').textContent = message;
  $('alert').querySelector('.alert-box').hidden = false;
}

function clearAlert() {
  $('alert').querySelector('.alert-box').hidden = true;
  $('alert-text').textContent = '';
}

function showKeyForm() {
  $('bridge-key-form').hidden = false;
  $('bridge-key').focus();
}

// ---- Drawing a Check ----

const signatureOf = (a) => JSON.stringify([a.label, a.score, a.flags, a.llm ?? null, a.text ?? null]);

function stamp(t0) {
  const verdict = $('verdict');
  verdict.dataset.ms = String(Math.round(performance.now() - t0));
  verdict.dataset.seq = String(++state.renders);
}

/** `announce`: a check the person asked for (paste, file, clipboard, AI answer) is read out even when the label
 * stays; otherwise only a changed label is. */
function show(check, { t0, saved, text, announce = false, image }) {
  const signature = signatureOf(check.analysis);
  if (announce || check.analysis.label !== state.label) announceVerdict(check.analysis);
  state.label = check.analysis.label;
  if (saved && state.check && text === state.shownText && signature === state.signature) {
    // The save after a typing pause usually confirms the live verdict: only its id and AI offer are new.
    state.check = check;
    adoptAi(check);
    showReport(check.check_id == null ? null : { checkId: check.check_id });
    return;
  }
  state.check = check;
  state.signature = signature;
  state.shownText = text;
  showBanner(null);
  renderAnalysis(check.analysis, { fallbackText: text, image });
  renderAi(check, { committed: saved });
  // Only a saved check can be reported: the report is made from its redacted history entry.
  showReport(saved && check.check_id != null ? { checkId: check.check_id } : null);
  stamp(t0);
}

function reset() {
  state.request++;
  state.check = null;
  state.signature = '';
  state.shownText = null;
  state.label = null;
  announceVerdict(null);
  dropAi();
  showReport(null);
  renderEmpty(EMPTY_TEXT);
}

/** Runs one request; only the newest may draw. `fill`: put the text the backend read into the textarea. */
async function run(request, { t0, saved, fill = false, text = input.value, announce = false, image }) {
  const mine = ++state.request;
  try {
    const check = await request();
    if (mine !== state.request) return;
    clearAlert();
    if (fill && typeof check.analysis.text === 'string') {
      text = check.analysis.text;
      input.value = text; // setting .value fires no input event, so this starts no new check
    }
    if (saved) state.savedText = text;
    show(check, { t0, saved, text, announce, image: image ?? check.image });
  } catch (err) {
    if (mine === state.request) showError(err);
  }
}

function checkText(save, t0, announce = false) {
  clearTimeout(liveTimer);
  if (save) clearTimeout(saveTimer);
  const text = input.value;
  if (!text.trim()) return reset();
  return run(() => api.analyzeText(text, save), { t0, saved: save, text, announce });
}

function saveIfChanged() {
  clearTimeout(saveTimer);
  if (input.value.trim() && input.value !== state.savedText) checkText(true, performance.now());
}

const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp'];

/** A file as a data URL, to show a checked image beside its verdict (the page's CSP allows data: images). */
function dataUrl(file) {
  return new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => resolve(undefined);
    reader.readAsDataURL(file);
  });
}

async function checkFile(file, t0) {
  if (!file) return;
  selectTab('check');
  if (file.size > MAX_FILE) return showError({ kind: 'input', message: 'This file is too big to check (over 25 MB).' });
  stopTimers();
  // The backend knows an image by its bytes; the page only needs to know whether to show it beside the verdict.
  const image = caps.desktop && IMAGE_TYPES.includes(file.type) ? await dataUrl(file) : undefined;
  run(() => api.analyzeFile(file), { t0, saved: true, fill: true, announce: true, image });
}

/** An image pasted (a screenshot copied to the clipboard) is checked like an opened one. */
function pastedImage(e) {
  const file = Array.from(e.clipboardData?.files ?? []).find((f) => IMAGE_TYPES.includes(f.type));
  if (!file || !caps.desktop) return false;
  e.preventDefault();
  checkFile(file, performance.now());
  return true;
}

function checkClipboard(t0) {
  if (!caps.clipboard) return;
  selectTab('check');
  stopTimers();
  run(() => api.analyzeClipboard(), { t0, saved: true, fill: true, announce: true });
}

function openHistoryItem(analysis, entry, t0) {
  stopTimers();
  state.request++; // a live check still on its way must not replace this
  state.check = null;
  state.signature = '';
  state.shownText = null;
  state.label = null; // another verdict is on screen: the next check of the text is read out
  announceVerdict(null);
  selectTab('check');
  renderAnalysis(analysis, { fallbackText: entry.text });
  renderStoredAi(analysis);
  showReport({ historyId: entry.id });
  showBanner(`From your history, ${formatDate(entry.created_at)}; personal details were removed before saving.`);
  stamp(t0);
  $('history-banner-close').focus();
}

// ---- Tabs ----

function selectTab(name, focus = false) {
  for (const tab of TABS) {
    const on = tab === name;
    $(`tab-${tab}`).setAttribute('aria-selected', String(on));
    $(`tab-${tab}`).tabIndex = on ? 0 : -1;
    $(`view-${tab}`).hidden = !on;
  }
  if (focus) $(`tab-${name}`).focus();
  if (name === 'history' && caps.history) loadHistory();
  if (name === 'settings') loadSettings();
}

function wireTabs() {
  const visible = () => TABS.filter((t) => !$(`tab-${t}`).hidden);
  for (const tab of TABS) $(`tab-${tab}`).addEventListener('click', () => selectTab(tab));
  document.querySelector('[role=tablist]').addEventListener('keydown', (e) => {
    const tabs = visible();
    const i = tabs.indexOf(e.target.id.replace('tab-', ''));
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
    if (next === undefined || i < 0) return;
    e.preventDefault();
    selectTab(tabs[(next + tabs.length) % tabs.length], true);
  });
}

// ---- Input: paste, typing, buttons, files, drop ----

function wireInput() {
  input.addEventListener('paste', (e) => {
    if (pastedImage(e)) return;
    const t0 = performance.now();
    pasting = true;
    // The textarea's value changes after the paste event; read it on the next turn.
    setTimeout(() => {
      pasting = false;
      checkText(true, t0, true);
    }, 0);
  });
  input.addEventListener('input', (e) => {
    if (pasting || e.inputType === 'insertFromPaste') return;
    const t0 = performance.now();
    stopTimers();
    if (!input.value.trim()) return reset();
    if (e.inputType === 'insertFromDrop') return checkText(true, t0, true); // text dropped in: like a paste
    liveTimer = setTimeout(() => checkText(false, t0), LIVE_DELAY);
    saveTimer = setTimeout(saveIfChanged, SAVE_DELAY);
  });
  input.addEventListener('blur', saveIfChanged);

  $('open-file').addEventListener('click', () => $('file-input').click());
  $('file-input').accept = caps.accept;
  $('file-input').addEventListener('change', (e) => {
    checkFile(e.target.files[0], performance.now());
    e.target.value = ''; // choosing the same file again should check it again
  });
  $('check-clipboard').addEventListener('click', () => checkClipboard(performance.now()));
  $('clear').addEventListener('click', () => {
    stopTimers();
    input.value = '';
    clearAlert();
    reset();
    input.focus();
  });
  $('history-banner-close').addEventListener('click', () => {
    showBanner(null);
    if (input.value.trim()) checkText(false, performance.now());
    else reset();
    input.focus();
  });
  $('bridge-key-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const key = $('bridge-key').value.trim();
    if (!key) return;
    api.bridgeKey.set(key);
    $('bridge-key').value = '';
    $('bridge-key-form').hidden = true;
    settingsView.showBridgeKey();
    clearAlert();
    input.focus();
    if (input.value.trim()) checkText(true, performance.now());
  });
}

// A screenshot pasted anywhere in the Check view but a field (the textarea handles its own paste).
function wirePasteImage() {
  document.addEventListener('paste', (e) => {
    if ($('view-check').hidden || e.target === input || e.target?.matches?.('input, textarea')) return;
    pastedImage(e);
  });
}

function wireDrop() {
  const overlay = $('drop-overlay');
  let depth = 0;
  const hasFiles = (e) => Array.from(e.dataTransfer?.types ?? []).includes('Files');
  // Capture phase, and always preventDefault for files: otherwise the webview would navigate to the dropped file.
  const opts = { capture: true };
  window.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth++;
    overlay.hidden = false;
  }, opts);
  window.addEventListener('dragover', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
  }, opts);
  window.addEventListener('dragleave', (e) => {
    if (!hasFiles(e)) return;
    depth = Math.max(0, depth - 1);
    if (!depth) overlay.hidden = true;
  }, opts);
  window.addEventListener('drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.stopPropagation();
    depth = 0;
    overlay.hidden = true;
    checkFile(e.dataTransfer.files[0], performance.now());
  }, opts);
}

// ---- Keyboard shortcuts ----

// Shortcuts that start a check act only on the Check view, from the posting's field or from outside any field:
// Ctrl+Shift+V in the API-key field would otherwise check (and save to the history) the key itself.
function checkShortcutAllowed() {
  if ($('view-check').hidden) return false;
  const focused = document.activeElement;
  if (focused === input) return true;
  return !(focused?.isContentEditable || focused?.matches?.('input, textarea, select'));
}

function wireKeys() {
  window.addEventListener('keydown', (e) => {
    const ctrl = e.ctrlKey || e.metaKey;
    if (e.altKey && !ctrl && !e.shiftKey && /^Digit[123]$/.test(e.code)) {
      const tab = TABS[Number(e.code.slice(5)) - 1];
      if ($(`tab-${tab}`).hidden) return;
      e.preventDefault();
      selectTab(tab, true);
    } else if (ctrl && !e.altKey && e.code === 'KeyO' && !e.shiftKey && checkShortcutAllowed()) {
      e.preventDefault();
      $('file-input').click();
    } else if (ctrl && !e.altKey && e.shiftKey && e.code === 'KeyV' && caps.clipboard && checkShortcutAllowed()) {
      e.preventDefault(); // in a textarea this would otherwise paste as plain text
      checkClipboard(performance.now());
    } else if (ctrl && !e.altKey && (e.key === '=' || e.key === '+' || e.code === 'NumpadAdd')) {
      e.preventDefault();
      textSize(1);
    } else if (ctrl && !e.altKey && (e.key === '-' || e.code === 'NumpadSubtract')) {
      e.preventDefault();
      textSize(-1);
    } else if (ctrl && !e.altKey && (e.key === '0' || e.code === 'Numpad0')) {
      e.preventDefault();
      textSize(0);
    } else if (e.key === 'Escape' && cancelAi()) {
      e.preventDefault();
    }
  });
}

// ---- Start ----

function applyCapabilities() {
  const have = { ...caps, web: !caps.desktop };
  for (const node of document.querySelectorAll('[data-requires]')) {
    if (!have[node.dataset.requires]) node.hidden = true;
  }
  document.body.dataset.mode = caps.desktop ? 'desktop' : 'web';
}

const settingsView = initSettings({ onError: showError, onBridgeKeyChange: showKeyForm });

// Settings were saved or the key changed. An open preview named the old service and model, so it goes and must be
// shown again before anything is sent; the offer itself may change too (offline only, a key), so the text is
// checked again, without saving. A verdict the AI already gave stays: checking again would hide it.
document.addEventListener('redflag:settings-changed', () => {
  dropAi();
  const shown = state.check;
  if (!shown || shown.analysis.llm) return; // empty, a history item, or the AI's answer
  renderAi(shown); // the old preview's Send button goes now, not when the new check answers
  if (input.value.trim()) checkText(false, performance.now());
});

async function start() {
  applyPrefs();
  applyCapabilities();
  wireTabs();
  wireInput();
  wireDrop();
  wirePasteImage();
  wireKeys();
  wireTextView();
  $('alert-dismiss').addEventListener('click', clearAlert);
  initHistory({ onOpen: openHistoryItem, onError: showError });
  if (caps.desktop) initReport();
  renderEmpty(EMPTY_TEXT);
  const ai = initAi({
    onCheck: (check) => run(async () => check, { t0: performance.now(), saved: true, text: state.shownText ?? input.value, announce: true }),
    onError: showError,
    // The AI needs a saved check; this saves the current text without redrawing what is on screen.
    ensureCheck: async () => {
      const check = await api.analyzeText(input.value, true);
      state.savedText = input.value;
      state.check = check;
      return check;
    },
  });
  if (caps.desktop) await Promise.allSettled([loadSettings(), ai]);
  else if (!api.bridgeKey.get()) $('bridge-key-form').hidden = false;
  document.body.dataset.ready = 'true';
  document.body.dataset.readyMs = String(Math.round(performance.now()));
}

start();

// Settings view: the backend's settings form, plus appearance (theme, text size) kept in localStorage only.
//
// Design: the form is filled from `settings_get` and saved as the same shape; read-only fields (key storage,
// paths, env overrides) are merged back unchanged, the backend ignores them. The API key is never read back: the
// field starts empty and the line next to it says whether a key is saved and where. Key actions redraw only the
// key's lines, so other unsaved edits survive them. Every successful change dispatches `redflag:settings-changed`
// on document: the Check view then drops an open AI preview, which named the old service. Text size is one custom
// property (--text-scale) on :root that every rem in style.css derives from.

import { setPaired } from './report.js';
import { settingsGet, settingsSave, apiKeySet, apiKeyClear, bridgeKey, capabilities, syncStatus, syncPair, syncNow } from './api.js';

const $ = (id) => document.getElementById(id);
const THEME = 'redflag.theme';
const SCALE = 'redflag.textScale';
const STEPS = [0.8, 0.9, 1, 1.1, 1.25, 1.4, 1.6, 1.8];

let current = null;
let hooks = { onError: () => {}, onBridgeKeyChange: () => {} };

export const currentSettings = () => current;

// ---- Appearance ----

function storedScale() {
  const v = Number(localStorage.getItem(SCALE));
  return STEPS.includes(v) ? v : 1;
}

export function applyPrefs() {
  const theme = localStorage.getItem(THEME);
  if (theme === 'light' || theme === 'dark') document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
  $('set-theme').value = theme === 'light' || theme === 'dark' ? theme : 'system';
  const scale = storedScale();
  // CSSOM custom properties are allowed by the CSP (only style="" attributes in markup are not).
  document.documentElement.style.setProperty('--text-scale', String(scale));
  $('text-size-value').textContent = `${Math.round(scale * 100)}%`;
  $('text-smaller').disabled = scale === STEPS[0];
  $('text-larger').disabled = scale === STEPS.at(-1);
}

/** step: +1 larger, -1 smaller, 0 reset. */
export function textSize(step) {
  const i = STEPS.indexOf(storedScale());
  const next = step === 0 ? 1 : STEPS[Math.max(0, Math.min(STEPS.length - 1, i + step))];
  localStorage.setItem(SCALE, String(next));
  applyPrefs();
}

// ---- Backend settings ----

const numberOrNull = (input) => (input.value.trim() === '' ? null : Number(input.value));

/** The key's lines only. `current` takes all of `s`: read() puts the form's fields over it, so edits stay. */
function fillKey(s) {
  current = s;
  $('set-api-key').value = '';
  // api_key_set: a key saved by this app; a key from the environment is explained by the note below instead.
  $('set-api-key').placeholder = s.api_key_set ? 'A key is saved' : 'Paste the key here';
  $('key-state').textContent = s.api_key_set ? 'A key is saved.' : 'No key saved.';
  $('key-storage').textContent = s.key_storage_detail ?? '';
  $('key-note').textContent = s.api_key_note ?? '';
  $('key-note').hidden = !s.api_key_note;
  $('key-remove').disabled = !s.api_key_set;
}

function fill(s) {
  fillKey(s);
  // The settings file could not be read at start-up, so the app runs on defaults; saving rewrites the file.
  $('config-error-text').textContent = s.config_error ?? '';
  $('config-error').hidden = !s.config_error;
  $('set-offline').checked = s.offline_only;
  $('set-base-url').value = s.base_url ?? '';
  $('set-model').value = s.model ?? '';
  $('set-policy').value = s.policy;
  $('set-auto-ask').checked = s.auto_ask;
  $('set-daily').value = s.daily_usd ?? '';
  $('set-monthly').value = s.monthly_usd ?? '';
  $('set-history').checked = s.history_enabled;
  $('set-retention').value = s.retention_days ?? '';
  $('config-path').textContent = s.config_path ?? '';
  $('db-path').textContent = s.db_path ?? '';
  const env = s.env_overrides ?? [];
  $('env-note').hidden = !env.length;
  $('env-note').textContent = env.length
    ? `Set by environment variables, which win over what you save here: ${env.join(', ')}.` : '';
}

function read() {
  return {
    ...current,
    offline_only: $('set-offline').checked,
    base_url: $('set-base-url').value.trim(),
    model: $('set-model').value.trim(),
    policy: $('set-policy').value,
    auto_ask: $('set-auto-ask').checked,
    daily_usd: numberOrNull($('set-daily')),
    monthly_usd: numberOrNull($('set-monthly')),
    history_enabled: $('set-history').checked,
    retention_days: numberOrNull($('set-retention')),
  };
}

const status = (text) => { $('settings-status').textContent = text; };
const changed = () => document.dispatchEvent(new CustomEvent('redflag:settings-changed'));

async function keyAction(action, done) {
  status('');
  try {
    fillKey(await action());
    status(done);
    changed();
  } catch (err) {
    hooks.onError(err);
  }
}

async function save() {
  const button = $('settings-save');
  button.disabled = true; // a second click while the first save runs would save twice
  status('');
  let saved = false;
  try {
    // A key typed here and then the main Save: save it too rather than dropping it silently. First, so that a
    // refused key stops before the settings change.
    const key = $('set-api-key').value.trim();
    if (key) {
      fillKey(await apiKeySet(key));
      saved = true;
    }
    fill(await settingsSave(read()));
    saved = true;
    status(key ? 'Key and settings saved.' : 'Saved.');
  } catch (err) {
    hooks.onError(err);
  } finally {
    button.disabled = false;
    if (saved) changed(); // once, also when the key was saved and the settings then failed
  }
}

export async function loadSettings() {
  if (!capabilities().settings) return;
  try {
    fill(await settingsGet());
    showHub(await syncStatus());
  } catch (err) {
    hooks.onError(err);
  }
}

// ---- Connect to a Redflag hub ----

/** The hub's status line: where, whose key, when, and how many reported values are matched here. */
let hubPaired = false;

function showHub(s) {
  hubPaired = s.paired;
  setPaired(s.paired);
  $('hub-sync').disabled = !s.paired;
  if (!s.paired) {
    $('hub-status').textContent = 'Not connected. Redflag works on its own; a hub adds what other people reported.';
    return;
  }
  $('hub-url').value = s.hub ?? '';
  const when = s.last_sync ? new Date(s.last_sync * 1000).toLocaleString() : 'not yet';
  $('hub-status').textContent =
    `Connected to ${s.hub} (key ${s.fingerprint}). Last sync: ${when}; ${s.indicators} reported values are checked on this computer.`;
}

async function hubAction(action, busy) {
  const buttons = [$('hub-pair'), $('hub-sync')];
  buttons.forEach((b) => { b.disabled = true; });
  $('hub-status').textContent = busy;
  try {
    showHub(await action());
    $('hub-token').value = '';
  } catch (err) {
    $('hub-status').textContent = err.message;
  } finally {
    $('hub-pair').disabled = false;
    $('hub-sync').disabled = !hubPaired;
  }
}

function showBridgeKey() {
  $('bridge-key-state').textContent = bridgeKey.get() ? 'A key is saved in this browser.' : 'No key saved.';
  $('bridge-key-forget').disabled = !bridgeKey.get();
}

export function initSettings(h) {
  hooks = h;
  const form = $('settings-form');
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    // type=number gives '' for text it cannot read; :invalid catches that, negative numbers and an empty address.
    const bad = form.querySelector('input:invalid, select:invalid'); // not the fieldset, which matches too
    if (bad) {
      status(`${form.querySelector(`label[for="${bad.id}"]`)?.textContent ?? 'A field'}: ${bad.validationMessage}`);
      return bad.focus();
    }
    if (current && !$('settings-save').disabled) save();
  });
  form.addEventListener('input', () => status(''));
  for (const preset of form.querySelectorAll('.preset')) {
    preset.addEventListener('click', () => {
      $('set-base-url').value = preset.dataset.url;
      status('');
    });
  }
  $('key-save').addEventListener('click', () => {
    const key = $('set-api-key').value.trim();
    if (!key) return status('Paste a key first.');
    keyAction(() => apiKeySet(key), 'Key saved.');
  });
  $('set-api-key').addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault(); // Enter in the key field saves the key, not the whole form
      $('key-save').click();
    }
  });
  $('key-remove').addEventListener('click', () => keyAction(apiKeyClear, 'Key removed.'));

  $('hub-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const url = $('hub-url').value.trim();
    const token = $('hub-token').value.trim();
    if (!url || !token) return void ($('hub-status').textContent = 'Enter the hub address and the pairing token you were given.');
    hubAction(() => syncPair(url, token), 'Connecting…');
  });
  $('hub-sync').addEventListener('click', () => hubAction(syncNow, 'Syncing…'));

  $('set-theme').addEventListener('change', (e) => {
    localStorage.setItem(THEME, e.target.value);
    applyPrefs();
  });
  $('text-smaller').addEventListener('click', () => textSize(-1));
  $('text-larger').addEventListener('click', () => textSize(1));
  $('text-reset').addEventListener('click', () => textSize(0));
  $('bridge-key-forget').addEventListener('click', () => {
    bridgeKey.clear();
    showBridgeKey();
    hooks.onBridgeKeyChange();
  });
  showBridgeKey();
  return { showBridgeKey };
}

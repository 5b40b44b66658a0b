// The one door to the backend. Every call the UI makes goes through here, so there is a single place that knows
// whether we run inside the desktop app (Tauri commands over IPC) or in a plain browser against Redflag's bridge
// server (`POST /v1/analyze` with a bearer key). Callers always get a Check back and always see failures as
// `{kind, message}`, where `message` is written for the person and is shown as is.

const tauri = globalThis.__TAURI__;
const desktop = Boolean(tauri?.core?.invoke);
const KEY_STORE = 'redflag.bridgeKey';
const WEB_REASON = 'Web version: the verdict comes from the Redflag server.';

/** What this build can do; the UI hides the rest. `accept` is the file picker's filter. */
export function capabilities() {
  return desktop
    ? { desktop: true, history: true, settings: true, ai: true, clipboard: true, files: true,
        accept: '.txt,.html,.htm,.eml,.pdf,.png,.jpg,.jpeg,.webp,text/plain,text/html,message/rfc822,application/pdf,image/png,image/jpeg,image/webp' }
    : { desktop: false, history: false, settings: false, ai: false, clipboard: false, files: true,
        accept: '.txt,.html,.htm,text/plain,text/html' };
}

/** Tauri rejects with whatever the command returned; a missing command or a panic gives a bare string. */
function normalizeError(err) {
  if (err && typeof err === 'object' && typeof err.message === 'string') {
    return { kind: typeof err.kind === 'string' ? err.kind : 'internal', message: err.message };
  }
  const text = typeof err === 'string' && err.trim() ? err.trim() : 'Something went wrong. Please try again.';
  return { kind: 'internal', message: text };
}

async function call(command, args, options) {
  try {
    return await tauri.core.invoke(command, args, options);
  } catch (err) {
    throw normalizeError(err);
  }
}

function webOnlyCheck(analysis) {
  return { check_id: null, analysis, ai: { state: 'unavailable', reason: WEB_REASON, auto: false } };
}

// ---- Bridge key (web mode only; kept in this browser) ----

export const bridgeKey = {
  get: () => localStorage.getItem(KEY_STORE) || '',
  set: (key) => localStorage.setItem(KEY_STORE, key.trim()),
  clear: () => localStorage.removeItem(KEY_STORE),
};

async function bridgeAnalyze(text) {
  const key = bridgeKey.get();
  if (!key) throw { kind: 'auth', message: 'Enter the API key you were given for this Redflag server.' };
  let response;
  try {
    response = await fetch('/v1/analyze', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer ' + key },
      body: JSON.stringify({ text }),
    });
  } catch {
    throw { kind: 'network', message: 'Could not reach the Redflag server. Check your connection and try again.' };
  }
  if (response.ok) return webOnlyCheck(await response.json());
  if (response.status === 401) {
    throw { kind: 'auth', message: 'The server did not accept this API key. Enter a valid API key.' };
  }
  // The bridge answers errors with one plain sentence; other servers may send JSON {error} or {message}.
  const body = (await response.text().catch(() => '')).trim();
  let message = '';
  try {
    const json = JSON.parse(body);
    message = typeof json.error === 'string' ? json.error : typeof json.message === 'string' ? json.message : '';
  } catch {
    if (body.length < 400 && !body.startsWith('<')) message = body;
  }
  if (!message && response.status === 429) message = 'The server is busy. Try again in a few seconds.';
  throw { kind: response.status >= 500 ? 'internal' : 'input', message: message || response.statusText || `The server answered ${response.status}.` };
}

/** In the browser only plain text and HTML can be read, here, into text; the server sees text only. */
async function readTextFile(file) {
  const name = file.name.toLowerCase();
  const raw = await file.text();
  if (/\.html?$/.test(name) || file.type === 'text/html') {
    // DOMParser builds an inert document: no scripts run, nothing loads.
    const doc = new DOMParser().parseFromString(raw, 'text/html');
    doc.querySelectorAll('script, style, noscript, template').forEach((n) => n.remove());
    return (doc.body?.innerText ?? doc.body?.textContent ?? '').trim();
  }
  if (/\.txt$/.test(name) || file.type === 'text/plain') return raw;
  throw { kind: 'unsupported_file', message: 'The web version can open .txt and .html files. For other files, paste the text.' };
}

// ---- Checks ----

export function analyzeText(text, save) {
  return desktop ? call('analyze_text', { text, save: Boolean(save) }) : bridgeAnalyze(text);
}

export async function analyzeFile(file) {
  if (!desktop) return bridgeAnalyze(await readTextFile(file));
  const bytes = new Uint8Array(await file.arrayBuffer());
  return call('analyze_file', bytes, { headers: { 'x-file-name': encodeURIComponent(file.name) } });
}

export const analyzeClipboard = () => call('analyze_clipboard');

// ---- AI second opinion ----

export const aiPreview = (checkId) => call('ai_preview', { checkId });
export const aiAsk = (checkId) => call('ai_ask', { checkId });
export const aiCancel = (checkId) => call('ai_cancel', { checkId });

/** Calls back with {check_id, stage}; resolves to an unlisten function (a no-op outside the app). */
export async function onAiProgress(callback) {
  if (!desktop || !tauri.event?.listen) return () => {};
  return tauri.event.listen('ai-progress', (event) => callback(event.payload ?? {}));
}

// ---- History ----

export const historyList = (query, limit = 200) => call('history_list', { query, limit });
export const historyGet = (id) => call('history_get', { id });
export const historyDelete = (id) => call('history_delete', { id });
export const historyClear = () => call('history_clear');
export const historyExport = () => call('history_export');

// ---- Settings ----

export const settingsGet = () => call('settings_get');
export const settingsSave = (settings) => call('settings_save', { settings });
export const apiKeySet = (key) => call('api_key_set', { key });
export const apiKeyClear = () => call('api_key_clear');

// ---- Sync with a Redflag hub (desktop only) ----

export const syncStatus = () => call('sync_status');
export const syncPair = (url, token) => call('sync_pair', { url, token });
export const syncNow = () => call('sync_now');
/** `{ checkId }` or `{ historyId }`, and `label`: 'scam' or 'legit'. */
export const reportCheck = ({ checkId, historyId, label }) =>
  call('report_check', { checkId: checkId ?? null, historyId: historyId ?? null, label });

// "Tell your hub": report the verdict on screen as a scam or not, when this computer is connected to a Redflag hub
// and the check is in the history (a report is made from the saved, redacted check). The backend keeps the report
// first and sends it when it can, so a hub out of reach loses nothing; the sentence it answers is shown as is.

import { reportCheck } from './api.js';

const $ = (id) => document.getElementById(id);

let paired = false;
/** What a report would be about: `{ checkId }` for a check made now, `{ historyId }` for one opened from the
 * history, or null when there is nothing saved to report. */
let target = null;

/** Settings says whether a hub is connected; the card is offered only then. */
export function setPaired(on) {
  paired = Boolean(on);
  draw();
}

const same = (a, b) => Boolean(a && b) && a.checkId === b.checkId && a.historyId === b.historyId;

/** The verdict on screen changed. The same check shown again (saved after a pause, an AI answer merged) keeps
 * its card as it is: a report on its way or sent must not be offered twice. */
export function showReport(next) {
  if (same(next, target)) return;
  target = next;
  $('report-status').textContent = '';
  for (const b of buttons()) b.disabled = false;
  draw();
}

function draw() {
  $('report-card').hidden = !(paired && target);
}

const buttons = () => [$('report-scam'), $('report-legit')];

async function send(label) {
  if (!target) return;
  const about = target;
  for (const b of buttons()) b.disabled = true;
  $('report-status').textContent = 'Sending…';
  try {
    const done = await reportCheck({ ...about, label });
    if (!same(target, about)) return; // another verdict is on screen now
    $('report-status').textContent = done.message;
  } catch (err) {
    if (!same(target, about)) return;
    $('report-status').textContent = err.message;
    for (const b of buttons()) b.disabled = false;
  }
}

export function initReport() {
  $('report-scam').addEventListener('click', () => send('scam'));
  $('report-legit').addEventListener('click', () => send('legit'));
}

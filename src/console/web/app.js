// ArcoreSyncBridge ops console. Every piece of data comes from the ops API (/api/ops/...); this file only
// renders it and sends the operator's actions there, showing each answer or error as it comes back.
// Preact + htm: components without a build step; uPlot for the charts.
import { h, render } from './vendor/preact.js';
import { useCallback, useEffect, useRef, useState } from './vendor/hooks.js';
import htm from './vendor/htm.js';
import uPlot from './vendor/uplot.js';

const html = htm.bind(h);
const KEY_STORAGE = 'arcore-ops-key';
const REFRESH_MS = 5000;

class ApiError extends Error {
  constructor(status, message, data) {
    super(message);
    this.status = status;
    this.data = data;
  }
}

const SIGN_IN_STORAGE = 'arcore-sign-in-at';
const SIGN_IN_RETRY_MS = 60_000;

/**
 * Not signed in (Azure, OPS_AUTH=entra: the ops API answers 401 naming `signIn`, App Service Authentication's
 * /.auth/login/aad): the browser goes there and comes back to this page. Once a minute at most, so that a
 * sign-in the ops API still refuses shows its error instead of sending the browser round in circles.
 */
function signIn(answer) {
  const url = new URL(answer.signIn, location.href);
  if (url.origin !== location.origin) return; // the platform's own endpoint, never elsewhere
  const last = Number(sessionStorage.getItem(SIGN_IN_STORAGE) ?? 0);
  if (Date.now() - last < SIGN_IN_RETRY_MS) return;
  sessionStorage.setItem(SIGN_IN_STORAGE, String(Date.now()));
  url.searchParams.set('post_login_redirect_uri', `${location.pathname}${location.hash}`);
  location.assign(url.toString());
}

/**
 * One call to the ops API. Writes are JSON. With Entra sign-in the session cookie authenticates it; with
 * OPS_AUTH=key the master key the operator entered is sent (and the local host takes its serve --token there too).
 */
async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (key) headers['x-functions-key'] = key;
  if (method !== 'GET') headers['Content-Type'] = 'application/json';
  const res = await fetch(`/api/ops/${path}`, {
    method,
    headers,
    body: method === 'GET' ? undefined : JSON.stringify(body ?? {}),
    credentials: 'same-origin',
  });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { error: text };
  }
  if (res.status === 401 && typeof data?.signIn === 'string') signIn(data);
  if (!res.ok) {
    const problems = Array.isArray(data?.problems) ? `: ${data.problems.join('; ')}` : '';
    const hint = typeof data?.hint === 'string' && data.hint ? ` (next step: ${data.hint})` : '';
    throw new ApiError(res.status, `${data?.error ?? `HTTP ${res.status}`}${problems}${hint}`, data);
  }
  return data;
}

const enc = encodeURIComponent;

/** Loads `load()` now, again on `reload()`, and every `refreshMs` when given (live pages). */
function useResource(load, deps, refreshMs) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const reload = useCallback(() => {
    load().then(
      (data) => setState({ data, error: null, loading: false }),
      (error) => setState((s) => ({ data: s.data, error, loading: false })),
    );
  }, deps);
  useEffect(() => {
    reload();
    if (!refreshMs) return undefined;
    const timer = setInterval(reload, refreshMs);
    return () => clearInterval(timer);
  }, [reload]);
  return { ...state, reload };
}

function Message({ message }) {
  if (!message) return null;
  return html`<div class=${`message ${message.kind}`} role=${message.kind === 'error' ? 'alert' : 'status'}>
    ${message.text}
  </div>`;
}

function ErrorNote({ error }) {
  return error
    ? html`<${Message} message=${{ kind: 'error', text: `The ops API answered: ${error.message}` }} />`
    : null;
}

const ago = (iso) => {
  if (!iso) return 'never';
  const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 90) return `${s}s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
};
/** `1.5 GiB`: a byte count as the CLI prints it (src/core/ops/slotHealth.ts formatBytes). */
const bytes = (n) => {
  if (n === null || n === undefined) return 'unknown';
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} bytes` : `${value.toFixed(1)} ${units[unit]}`;
};
const seconds = (ms) => (ms === null || ms === undefined ? '–' : `${(ms / 1000).toFixed(1)} s`);
/** `1 row`, `2 rows`. */
const count = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
const show = (v) => (v === null || v === undefined ? '∅' : typeof v === 'string' ? v : JSON.stringify(v));
// The ops API says PULL; INGRESS is the name runs had before migration 008.
const runTypeName = (t) => (t === 'INGRESS' ? 'PULL' : t);

/** ok / attention / failing / paused, from what the status says. */
export function healthOf(d) {
  if (!d.enabled) return 'paused';
  if (d.lastPush?.status === 'FAILED' || d.lastPull?.status === 'FAILED') return 'failing';
  // An invalidated slot has lost its changes: the next push must re-read the table (status `slot.message`).
  if (d.healthy === false && d.slot?.walStatus === 'lost') return 'failing';
  if (
    d.healthy === false ||
    d.openConflicts > 0 ||
    d.parkedFailures > 0 ||
    d.heldMoves > 0 ||
    d.lastPush?.status === 'PARTIAL' ||
    d.lastPull?.status === 'PARTIAL'
  )
    return 'attention';
  return 'ok';
}

/** The replication slot of an LSN definition in one sentence (status `slot`); null when there is nothing to say. */
function slotNote(slot) {
  if (!slot) return null;
  if (!slot.healthy) return `replication slot unhealthy: ${slot.message ?? 'see the definition'}`;
  return slot.message ? `replication slot: ${slot.message}` : null;
}

/** Rows no route matches (status `unroutedRows`), in the CLI's words, with the next step (docs/cli.md, Routing). */
const unroutedNote = (n) =>
  `${n} rows no route matches: not synced (add a route whose "when" matches them, or a last route without ` +
  '"when" as the default; the next push syncs them)';

/** Creates not yet confirmed (status `pendingCreates`), in the CLI's words. */
const pendingCreatesNote = (n) =>
  `${n} creates not yet confirmed (in flight, or sent by a run that stopped; a push adopts each item, or ` +
  'creates it once PENDING_CREATE_SETTLE_SECONDS have passed)';

const DELETES_OWED =
  'deletes: a full comparison of the ledger with the table is under way; the next push continues it';

function Chart({ title, series, data, height = 180 }) {
  const ref = useRef(null);
  useEffect(() => {
    if (!ref.current || !data) return undefined;
    const width = Math.max(320, Math.min(ref.current.clientWidth || 720, 1100));
    const plot = new uPlot({ title, width, height, series: [{}, ...series] }, data, ref.current);
    return () => plot.destroy();
  }, [data, title]);
  return html`<div class="chart" ref=${ref} role="img" aria-label=${title}></div>`;
}

function Overview() {
  const defs = useResource(() => api('definitions'), [], REFRESH_MS);
  const budget = useResource(() => api('budget'), [], REFRESH_MS);
  const rows = defs.data?.definitions ?? [];
  const chartData = budget.data
    ? [
        budget.data.minutes.map((m) => new Date(m.minute).getTime() / 1000),
        budget.data.minutes.map((m) => m.resourceUnits),
        budget.data.minutes.map(() => budget.data.ruPerMinute),
      ]
    : null;
  return html`<section aria-labelledby="overview-title">
    <h2 id="overview-title">Overview</h2>
    <${ErrorNote} error=${defs.error} />
    <table>
      <caption class="muted">
        Every definition; refreshed every ${REFRESH_MS / 1000} s
      </caption>
      <thead>
        <tr>
          <th scope="col">Definition</th>
          <th scope="col">Health</th>
          <th scope="col">Last push</th>
          <th scope="col">Last pull</th>
          <th scope="col" class="num">Open conflicts</th>
          <th scope="col" class="num">Parked failures</th>
          <th scope="col" class="num">Synced rows</th>
          <th scope="col">Waiting</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map((d) => {
          const health = healthOf(d);
          return html`<tr data-definition=${d.name}>
            <th scope="row"><a href=${`#/definitions/${enc(d.name)}`}>${d.name}</a></th>
            <td><span class=${`badge ${health}`}>${health}</span></td>
            <td>
              ${d.lastPush ? html`<span class=${`status-${d.lastPush.status}`}>${d.lastPush.status}</span> ${ago(d.lastPush.finishedAt ?? d.lastPush.startedAt)}` : 'never'}
            </td>
            <td>
              ${d.lastPull ? html`<span class=${`status-${d.lastPull.status}`}>${d.lastPull.status}</span> ${ago(d.lastPull.finishedAt ?? d.lastPull.startedAt)}` : d.pullEnabled ? 'never' : 'pull off'}
            </td>
            <td class="num"><a href="#/conflicts">${d.openConflicts}</a></td>
            <td class="num"><a href="#/failures">${d.parkedFailures}</a></td>
            <td class="num">${d.ledgerSize}</td>
            <td>
              ${
                [
                  d.pendingPull ? 'a pull is pending' : null,
                  d.heldMoves > 0
                    ? `${count(d.heldMoves, 'move')} held for you (both items edited; see the definition)`
                    : null,
                  d.itemDeletedAdvice
                    ? `${count(d.itemDeletedRows, 'row')} whose item was deleted in SharePoint, held (see the definition)`
                    : null,
                  d.backfill ? `backfill unfinished (${d.backfill.done}/${d.backfill.total} rows)` : null,
                  d.listProblems?.length
                    ? `list skipped: ${d.listProblems.map((p) => p.list).join(', ')} (see the definition)`
                    : null,
                  slotNote(d.slot),
                  d.unroutedRows > 0 ? unroutedNote(d.unroutedRows) : null,
                  d.pendingCreates > 0 ? pendingCreatesNote(d.pendingCreates) : null,
                  d.deletesComparisonOwed ? DELETES_OWED : null,
                  d.captureLoad ? 'table load in progress (deletes captured in the slot wait)' : null,
                ]
                  .filter(Boolean)
                  .join('; ') || '–'
              }
            </td>
          </tr>`;
        })}
      </tbody>
    </table>
    ${rows.length === 0 && !defs.loading ? html`<p>No definitions yet: <code>npx arcore-sync apply FILE</code> adds them.</p>` : null}
    <h3>Resource units used, last hour</h3>
    <${ErrorNote} error=${budget.error} />
    ${
      budget.data
        ? html`<p class="muted">
              ${budget.data.totalResourceUnits} units in the last hour; budget ${budget.data.ruPerMinute} per
              minute (the flat line).
            </p>
            <${Chart}
              title="Resource units per minute"
              data=${chartData}
              series=${[
                { label: 'used', stroke: '#0b5cad', fill: 'rgba(11,92,173,0.15)' },
                { label: 'budget', stroke: '#a1161b', dash: [6, 4] },
              ]}
            />`
        : null
    }
  </section>`;
}

function RunsTable({ runs, showDefinition }) {
  return html`<table>
    <thead>
      <tr>
        <th scope="col">Run</th>
        ${showDefinition ? html`<th scope="col">Definition</th>` : null}
        <th scope="col">Type</th>
        <th scope="col">Trigger</th>
        <th scope="col">Status</th>
        <th scope="col">Started</th>
        <th scope="col" class="num">Duration</th>
        <th scope="col" class="num">Processed</th>
        <th scope="col" class="num">Created</th>
        <th scope="col" class="num">Updated</th>
        <th scope="col" class="num">Deleted</th>
        <th scope="col" class="num">Conflicts</th>
        <th scope="col" class="num">Failed</th>
        <th scope="col" class="num">RU</th>
        <th scope="col">Error</th>
      </tr>
    </thead>
    <tbody>
      ${runs.map(
        (r) =>
          html`<tr data-run=${r.runId}>
            <td>${r.runId}</td>
            ${showDefinition ? html`<td><a href=${`#/definitions/${enc(r.definition)}`}>${r.definition}</a></td>` : null}
            <td>${runTypeName(r.runType)}</td>
            <td>${r.trigger}</td>
            <td class=${`status-${r.status}`}>${r.status}</td>
            <td>${new Date(r.startedAt).toLocaleString()}</td>
            <td class="num">${seconds(r.durationMs)}</td>
            <td class="num">${r.processed}</td>
            <td class="num">${r.created}</td>
            <td class="num">${r.updated}</td>
            <td class="num">${r.deleted}</td>
            <td class="num">${r.conflicts}</td>
            <td class="num">${r.failed}</td>
            <td class="num">${r.resourceUnits}</td>
            <td>${r.error ?? ''}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

const RESET_EXPLAINED = {
  source:
    'The next push re-reads the whole table. Unchanged rows are recognised from the ledger and not written; only real differences cost resource units.',
  target:
    'The next pull enumerates the whole list again (2 resource units per page of items) and reconciles it with the ledger; items missing from it count as deleted in SharePoint.',
  all: 'The next push re-reads the whole table and the next pull enumerates the whole list again; the ledger keeps every pair, so nothing is duplicated and only real differences are written.',
};

/**
 * Backfill (issue #22): re-sync the chosen fields of every synced row without moving a cursor. The ops API
 * refuses unknown fields and an unfinished backfill of other fields, naming the next step; the answer shows.
 */
function BackfillForm({ name, fields, busy, onRun }) {
  const [chosen, setChosen] = useState([]);
  const [strategy, setStrategy] = useState('update_only');
  const [direction, setDirection] = useState('push');
  const [dryRun, setDryRun] = useState(true);
  const toggle = (target, on) => setChosen((c) => (on ? [...c, target] : c.filter((t) => t !== target)));
  return html`<details id="backfill">
    <summary>Backfill fields…</summary>
    <p class="muted">
      Re-syncs only these fields of every synced row; cursors and <code>updated_at</code> do not move. An edit
      on the other side since the last sync goes to the conflict policy. Run it again to continue after a
      stop.
    </p>
    <fieldset>
      <legend>Fields</legend>
      ${fields.map(
        (f) =>
          html`<label
            ><input
              type="checkbox"
              name="backfill-field"
              value=${f.target}
              checked=${chosen.includes(f.target)}
              onChange=${(e) => toggle(f.target, e.target.checked)}
            />
            ${f.target} (${f.source})</label
          >`,
      )}
    </fieldset>
    <div class="actions">
      <label for="backfill-strategy">Strategy</label>
      <select id="backfill-strategy" value=${strategy} onChange=${(e) => setStrategy(e.target.value)}>
        <option value="update_only">update only (write what differs)</option>
        <option value="full_resync">full resync (re-read both sides, re-create missing items)</option>
      </select>
      <label for="backfill-direction">Direction</label>
      <select id="backfill-direction" value=${direction} onChange=${(e) => setDirection(e.target.value)}>
        <option value="push">push (Postgres → SharePoint)</option>
        <option value="pull">pull (SharePoint → Postgres)</option>
      </select>
      <label
        ><input type="checkbox" checked=${dryRun} onChange=${(e) => setDryRun(e.target.checked)} /> dry
        run</label
      >
      <button
        disabled=${busy || chosen.length === 0}
        onClick=${() =>
          onRun(dryRun ? 'Backfill (dry run)' : 'Backfill', [
            [`definitions/${enc(name)}/backfill`, { fields: chosen, strategy, direction, dryRun }],
          ])}
      >
        Backfill
      </button>
    </div>
  </details>`;
}

/** Why the ops API calls the definition unhealthy (status `healthIssues`), each sentence ending with its next step. */
function HealthIssues({ issues }) {
  return html`<div class="attention" id="health-issues">
    <p>Needs you:</p>
    <ul>
      ${issues.map((issue) => html`<li>${issue}</li>`)}
    </ul>
  </div>`;
}

/** Routed lists the last run skipped because they do not fit the mapping (status `listProblems`), with the fix. */
function ListProblems({ problems }) {
  const { runId, seenAt } = problems[0];
  const which = problems.length === 1 ? 'One routed list is' : `${problems.length} routed lists are`;
  return html`<div class="attention" id="list-problems">
    <p>
      ${`${which} skipped (run ${runId}, ${new Date(seenAt).toLocaleString()}): rows routed there wait, parked; the other lists sync.`}
    </p>
    <ul>
      ${problems.map(
        (p) =>
          html`<li data-list=${p.list}>
            <strong>${p.list}</strong>: ${p.problem.replace(/\s*Next step: .*$/s, '')}
            ${p.nextStep ? html`<br />Next step: ${p.nextStep}` : null}
          </li>`,
      )}
    </ul>
  </div>`;
}

/** Rows whose move between lists waits for the user (status `heldMoveAdvice`): each reason names both items. */
function HeldMoves({ total, advice }) {
  const more = total - advice.rows.length;
  const which =
    total === 1 ? 'One row moving between lists waits' : `${total} rows moving between lists wait`;
  return html`<div class="attention" id="held-moves">
    <p>
      ${`${which} for you: both items were edited in SharePoint, and neither is deleted. These are not failures; each push checks them again.`}
    </p>
    <ul>
      ${advice.rows.map(
        (h) =>
          html`<li data-failure=${h.failureId}><strong>${show(h.sourceIdentity)}</strong>: ${h.reason}</li>`,
      )}
    </ul>
    ${more > 0 ? html`<p>…and ${more} more (see <a href="#/failures">Failures</a>).</p>` : null}
    <p>Next step: ${advice.nextStep}</p>
  </div>`;
}

/** Rows kept when their item was deleted in SharePoint (status `itemDeletedAdvice`): why, and what to do. */
function ItemDeleted({ advice }) {
  return html`<div class="attention" id="item-deleted">
    <p>${advice.reason}.</p>
    <p>Next step: ${advice.nextStep}</p>
  </div>`;
}

/** A backfill a time budget, crash or failure left unfinished (status `backfill`): continue it or start over. */
function UnfinishedBackfill({ name, backfill: b, busy, onRun }) {
  const spec = { fields: b.fields, strategy: b.strategy, direction: b.direction };
  return html`<div class="attention" id="backfill-unfinished">
    <p>
      Unfinished backfill of ${b.fields.join(', ')} (${b.strategy}, ${b.direction}): ${b.done} of ${b.total}
      rows, ${b.runs} run(s) since ${new Date(b.startedAt).toLocaleString()}. CLI: <code>${b.resume}</code>
    </p>
    <div class="actions">
      <button
        disabled=${busy}
        onClick=${() => onRun('Backfill', [[`definitions/${enc(name)}/backfill`, spec]])}
      >
        Continue backfill
      </button>
      <button
        class="secondary"
        disabled=${busy}
        onClick=${() => onRun('Backfill', [[`definitions/${enc(name)}/backfill`, { ...spec, restart: true }]])}
      >
        Start over
      </button>
    </div>
  </div>`;
}

/** The replication slot of an LSN definition: the server's figures and what status says of it (the CLI's line). */
function SlotRow({ slot }) {
  const figures = slot.exists
    ? `${slot.slot} ${slot.active ? 'active' : 'idle'}, wal_status ${slot.walStatus ?? 'unknown'}, retained WAL ` +
      `${bytes(slot.retainedWalBytes)} (warning above ${bytes(slot.warnBytes)}), lag ${bytes(slot.lagBytes)}`
    : 'none on the source server';
  return html`<tr id="replication-slot">
    <th scope="row">Replication slot</th>
    <td>
      ${slot.healthy ? '' : html`<strong class="status-FAILED">unhealthy: </strong>`}${figures}${slot.message ? `; ${slot.message}` : ''}
    </td>
  </tr>`;
}

const FOLLOW_MS = 1000;

/**
 * Push, pull and sync from the console are enqueued (`{"wait": false}`, 202) rather than run inside the request:
 * in Azure the front end ends an HTTP request after 230 s whatever the run still does, so a waiting button would
 * report a 504 for a run that carries on. What was asked for is then followed in the definition's runs and said in
 * `setMessage` until done: for each type, the first run of it newer than the newest run seen when enqueueing,
 * whatever started it. A run started after the click serves the request, and it may not be the console's own: a
 * pull asked for while another pull (a webhook's) is pending folds into that one (I11), so no `ops` run follows.
 * A run that found the definition busy records nothing (it is sent again by the worker); a resolve's push of one
 * row does not count. Returns `start(label, types)`.
 */
function useEnqueuedRuns(name, runs, setMessage, setBusy) {
  const [following, setFollowing] = useState(null);
  useEffect(() => {
    if (!following) return undefined;
    const timer = setInterval(runs.reload, FOLLOW_MS);
    return () => clearInterval(timer);
  }, [following]);
  useEffect(() => {
    if (!following || !runs.data) return;
    const started = following.types.map(
      (type) =>
        runs.data.runs
          .filter(
            (r) =>
              Number(r.runId) > following.after &&
              r.trigger !== 'resolve' &&
              r.status !== 'SKIPPED' &&
              runTypeName(r.runType) === type,
          )
          .sort((a, b) => Number(a.runId) - Number(b.runId))[0],
    );
    const finished = started.every((r) => r && r.status !== 'RUNNING');
    const said = started.map((r, i) =>
      r ? `${following.types[i]} run ${r.runId} ${r.status}` : `${following.types[i]} waiting in the queue`,
    );
    if (!finished) {
      setMessage({ kind: 'info', text: `${following.label}: ${said.join(', ')}…` });
      return;
    }
    const failed = started.some((r) => r.status === 'FAILED');
    const statuses =
      started.length === 1
        ? started[0].status
        : started.map((r, i) => `${following.types[i]} ${r.status}`).join(', ');
    setMessage({
      kind: failed ? 'error' : 'info',
      text: `${following.label}: done (${statuses}); run ${started.map((r) => r.runId).join(' and ')} below`,
    });
    setFollowing(null);
  }, [runs.data, following]);
  return async (label, types) => {
    setBusy(true);
    // The newest run when the first was enqueued, as the ops API read it: the page's list may be seconds old, or
    // not loaded yet.
    let after = null;
    try {
      for (const type of types) {
        const answer = await api(`definitions/${enc(name)}/${type.toLowerCase()}`, {
          method: 'POST',
          body: { wait: false },
        });
        after ??= Number(
          answer?.afterRunId ?? Math.max(0, ...(runs.data?.runs ?? []).map((r) => Number(r.runId))),
        );
      }
      setMessage({ kind: 'info', text: `${label}: enqueued; it runs in the background, followed below` });
      setFollowing({ label, types, after });
      runs.reload();
    } catch (err) {
      setMessage({ kind: 'error', text: `${label} failed: ${err.message}` });
    } finally {
      setBusy(false);
    }
  };
}

function DefinitionPage({ name }) {
  const status = useResource(() => api(`definitions/${enc(name)}`), [name], REFRESH_MS);
  const detail = useResource(() => api(`definitions/${enc(name)}/definition`), [name]);
  const runs = useResource(() => api(`definitions/${enc(name)}/runs?limit=50`), [name], REFRESH_MS);
  const [message, setMessage] = useState(null);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState(null);
  const [scope, setScope] = useState('all');
  const dialog = useRef(null);
  const start = useEnqueuedRuns(name, runs, setMessage, setBusy);

  const act = async (label, calls) => {
    setBusy(true);
    setMessage({ kind: 'info', text: `${label}…` });
    setResult(null);
    try {
      const answers = [];
      for (const [path, body] of calls) answers.push(await api(path, { method: 'POST', body }));
      const last = answers[answers.length - 1];
      setResult(answers.length === 1 ? last : answers);
      const summary = last && typeof last === 'object' && 'status' in last ? ` (${last.status})` : '';
      // In Azure work done inside a request stops at the ops API's inline budget (under the 230 s HTTP limit).
      const unfinished = [last, last?.pull, last?.push].some((a) => a && a.complete === false)
        ? '; stopped at its time budget with work left: run it again to go on (a backfill continues where it stopped)'
        : '';
      setMessage({ kind: 'info', text: `${label}: done${summary}${unfinished}` });
    } catch (err) {
      setMessage({ kind: 'error', text: `${label} failed: ${err.message}` });
    } finally {
      setBusy(false);
      status.reload();
      runs.reload();
    }
  };
  const s = status.data;
  const d = detail.data;
  const runList = runs.data?.runs ?? [];
  const chronological = [...runList].reverse().filter((r) => r.durationMs !== null);
  const chartData = chronological.length
    ? [
        chronological.map((r) => new Date(r.startedAt).getTime() / 1000),
        chronological.map((r) => r.durationMs / 1000),
        chronological.map((r) => r.processed),
      ]
    : null;
  return html`<section aria-labelledby="definition-title">
    <h2 id="definition-title">Definition ${name}</h2>
    <${ErrorNote} error=${status.error || detail.error} />
    ${
      s
        ? html`<p>
            <span class=${`badge ${healthOf(s)}`}>${healthOf(s)}</span> ${s.table} → ${s.list}
            ${` · policy ${s.conflictPolicy} · schedule `}<code>${s.schedule}</code>
          </p>`
        : null
    }
    <div class="actions" role="group" aria-label="Run actions">
      <button disabled=${busy} onClick=${() => start('Push', ['PUSH'])}>Push now</button>
      <button disabled=${busy} onClick=${() => start('Pull', ['PULL'])}>Pull now</button>
      <button disabled=${busy} onClick=${() => start('Sync', ['PULL', 'PUSH'])}>Sync now</button>
      <button
        class="secondary"
        disabled=${busy}
        onClick=${() => act('Dry run', [[`definitions/${enc(name)}/dry-run`, { run: 'sync' }]])}
      >
        Dry run
      </button>
      <button
        class="secondary"
        disabled=${busy}
        onClick=${() => act('Verify', [[`definitions/${enc(name)}/verify`, {}]])}
      >
        Verify
      </button>
      <label for="reset-scope">Reset cursor</label>
      <select id="reset-scope" value=${scope} onChange=${(e) => setScope(e.target.value)}>
        <option value="all">both</option>
        <option value="source">push (source)</option>
        <option value="target">pull (target)</option>
      </select>
      <button class="secondary" disabled=${busy} onClick=${() => dialog.current?.showModal()}>Reset…</button>
    </div>
    <dialog ref=${dialog} aria-labelledby="reset-title">
      <h3 id="reset-title">
        Reset the ${scope === 'all' ? 'push and pull' : scope === 'source' ? 'push' : 'pull'} cursor of
        ${name}?
      </h3>
      <p>${RESET_EXPLAINED[scope]}</p>
      <div class="actions">
        <button
          onClick=${() => {
            dialog.current?.close();
            act('Reset cursor', [[`definitions/${enc(name)}/reset-cursor`, { scope }]]);
          }}
        >
          Reset
        </button>
        <button class="secondary" onClick=${() => dialog.current?.close()}>Cancel</button>
      </div>
    </dialog>
    ${status.data?.healthIssues?.length ? html`<${HealthIssues} issues=${status.data.healthIssues} />` : null}
    ${
      status.data?.listProblems?.length
        ? html`<${ListProblems} problems=${status.data.listProblems} />`
        : null
    }
    ${
      status.data?.heldMoveAdvice
        ? html`<${HeldMoves} total=${status.data.heldMoves} advice=${status.data.heldMoveAdvice} />`
        : null
    }
    ${status.data?.itemDeletedAdvice ? html`<${ItemDeleted} advice=${status.data.itemDeletedAdvice} />` : null}
    ${
      status.data?.backfill
        ? html`<${UnfinishedBackfill}
            name=${name}
            backfill=${status.data.backfill}
            busy=${busy}
            onRun=${act}
          />`
        : null
    }
    ${d ? html`<${BackfillForm} name=${name} fields=${d.fields} busy=${busy} onRun=${act} />` : null}
    <div aria-live="polite"><${Message} message=${message} /></div>
    ${
      result
        ? html`<details open>
            <summary>Answer of the ops API</summary>
            <pre>${JSON.stringify(result, null, 2)}</pre>
          </details>`
        : null
    }
    <h3 id="mapping-title">Mapping</h3>
    ${
      d
        ? html`<table id="mapping" aria-labelledby="mapping-title">
            <thead>
              <tr>
                <th scope="col">Postgres column</th>
                <th scope="col">Type</th>
                <th scope="col">SharePoint column</th>
                <th scope="col">Direction</th>
                <th scope="col">Transform</th>
              </tr>
            </thead>
            <tbody>
              ${d.fields.map(
                (f) =>
                  html`<tr>
                    <td>${f.source}${f.key ? ' (key)' : ''}</td>
                    <td>${f.sourceType ?? 'missing'}</td>
                    <td>${f.target}</td>
                    <td>${f.key ? 'PUSH_ONLY (key)' : f.direction}</td>
                    <td>
                      ${f.transform ? (typeof f.transform === 'string' ? f.transform : JSON.stringify(f.transform)) : '–'}${
                        f.pullTransform
                          ? ` (pull: ${typeof f.pullTransform === 'string' ? f.pullTransform : JSON.stringify(f.pullTransform)})`
                          : ''
                      }
                    </td>
                  </tr>`,
              )}
            </tbody>
          </table>`
        : null
    }
    ${
      s
        ? html`<h3>Cursors and subscription</h3>
            <table>
              <tbody>
                <tr>
                  <th scope="row">Push cursor</th>
                  <td>
                    ${s.cursors.source ? html`<code>${s.cursors.source.value ?? 'start'}</code> · moved ${ago(s.cursors.source.updatedAt)}` : 'not set: the next push reads every row'}
                  </td>
                </tr>
                <tr>
                  <th scope="row">Pull cursor</th>
                  <td>
                    ${s.cursors.target ? `${s.cursors.target.linkPresent ? 'delta link held' : 'enumeration in progress'} · moved ${ago(s.cursors.target.updatedAt)}` : 'not set: the next pull enumerates the list'}
                  </td>
                </tr>
                <tr>
                  <th scope="row">Last idle check</th>
                  <td>${`push ${ago(s.idleCheckedAt)} · pull ${ago(s.pullIdleCheckedAt)}`}</td>
                </tr>
                <tr>
                  <th scope="row">Subscription</th>
                  <td>
                    ${s.subscription ? `${s.subscription.state}, expires ${new Date(s.subscription.expiration).toLocaleString()}` : 'none'}
                  </td>
                </tr>
                <tr>
                  <th scope="row">Synced pairs</th>
                  <td>${s.ledgerSize}</td>
                </tr>
                ${
                  s.itemDeletedRows > 0
                    ? html`<tr>
                        <th scope="row">Item deleted in SharePoint</th>
                        <td>${count(s.itemDeletedRows, 'row')} held, not synced (see above)</td>
                      </tr>`
                    : null
                }
                ${
                  s.heldMoves > 0
                    ? html`<tr>
                        <th scope="row">Held moves</th>
                        <td>${count(s.heldMoves, 'row')} waiting for you (see above)</td>
                      </tr>`
                    : null
                }
                ${
                  s.unroutedRows > 0
                    ? html`<tr id="unrouted-rows">
                        <th scope="row">No route matches</th>
                        <td>${unroutedNote(s.unroutedRows)}</td>
                      </tr>`
                    : null
                }
                ${
                  s.pendingCreates > 0
                    ? html`<tr>
                        <th scope="row">Creates not yet confirmed</th>
                        <td>${pendingCreatesNote(s.pendingCreates)}</td>
                      </tr>`
                    : null
                }
                ${
                  s.deletesComparisonOwed
                    ? html`<tr>
                        <th scope="row">Deletes</th>
                        <td>${DELETES_OWED}</td>
                      </tr>`
                    : null
                }
                ${
                  s.captureLoad
                    ? html`<tr>
                        <th scope="row">Table load</th>
                        <td>${s.captureLoad.message}</td>
                      </tr>`
                    : null
                }
                ${s.slot ? html`<${SlotRow} slot=${s.slot} />` : null}
              </tbody>
            </table>`
        : null
    }
    <h3>Runs</h3>
    ${
      chartData
        ? html`<${Chart}
            title="Run duration (s) and rows processed"
            data=${chartData}
            series=${[
              { label: 'duration s', stroke: '#0b5cad' },
              { label: 'processed', stroke: '#1a6b33' },
            ]}
          />`
        : null
    }
    <${RunsTable} runs=${runList} showDefinition=${false} />
  </section>`;
}

/** The fields where base, Postgres and SharePoint do not all agree. */
export function differingFields(c) {
  const keys = new Set([
    ...Object.keys(c.baseValues ?? {}),
    ...Object.keys(c.postgresValues ?? {}),
    ...Object.keys(c.sharepointValues ?? {}),
  ]);
  const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  return [...keys].filter(
    (k) =>
      !same(c.postgresValues?.[k], c.sharepointValues?.[k]) ||
      !same(c.baseValues?.[k], c.postgresValues?.[k]),
  );
}

/** A field's value as the "Resolve to" input first shows it: text as it is, nothing as empty, others as JSON. */
function editableText(value) {
  if (value === null || value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * The value to send for what the operator typed into a field's input. The ops API reads every value by the field's
 * kind (src/core/canonical/toCanonical.ts): text, choice, uuid, dates and JSON columns take the text as typed, and
 * numbers, integers, booleans and lookup ids accept their text ('1004', 'true'), so the text is sent as typed:
 * `1004` typed into a text column stays the text "1004". Only list-valued fields (multiple choices or lookups,
 * whose values are arrays) are read as a JSON array. Empty means no value.
 */
export function editedValue(text, listValued) {
  if (text === '') return null;
  if (!listValued) return text;
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`type a JSON array such as ["a", "b"] or [1, 2], not ${text}`);
  }
  if (!Array.isArray(parsed)) throw new Error(`type a JSON array such as ["a", "b"] or [1, 2], not ${text}`);
  return parsed;
}

/** A field holds several values (multiChoice, multiLookupId) when any side's value of it is an array. */
const listValued = (c, f) =>
  [c.baseValues?.[f], c.postgresValues?.[f], c.sharepointValues?.[f]].some((v) => Array.isArray(v));

/** A delete against an edit (`c.deleted`): which side deleted, and what each button does (docs/cli.md resolve). */
function deleteHelp(c) {
  if (!c.deleted) return null;
  const item = c.spItemId ? `item ${c.spItemId}` : 'the item';
  if (c.deleted === 'POSTGRES') {
    const standing = {
      PROPAGATE: `${item} is deleted in SharePoint`,
      SOFT: `${item} is flagged deleted in SharePoint`,
      IGNORE: `${item} stays in SharePoint with its values`,
    }[c.deletes?.push];
    return {
      said: `Row deleted in Postgres, ${item} edited in SharePoint.`,
      postgres: `Take Postgres: the delete stands (${standing ? `${standing}, ` : ''}deletes.push ${c.deletes?.push}).`,
      sharepoint: "Take SharePoint: the row is inserted again with the item's values.",
    };
  }
  const standing = {
    PROPAGATE: 'the row is deleted in Postgres',
    SOFT: 'the row is flagged deleted in Postgres',
    IGNORE: 'the row stays in Postgres and is not pushed again',
  }[c.deletes?.pull];
  return {
    said: `Item deleted in SharePoint (${item}), row edited in Postgres.`,
    postgres: "Take Postgres: the item is created again with the row's values.",
    sharepoint: `Take SharePoint: the delete stands (${standing ? `${standing}, ` : ''}deletes.pull ${c.deletes?.pull}).`,
  };
}

function ConflictCard({ c, selected, onSelect, onResolved }) {
  const deleted = deleteHelp(c);
  const fields = differingFields(c);
  const [editing, setEditing] = useState(false);
  const [values, setValues] = useState({});
  const [message, setMessage] = useState(null);
  const resolve = async (body) => {
    try {
      const answer = await api(`conflicts/${enc(c.conflictId)}/resolve`, { method: 'POST', body });
      // Said on the page: this card leaves the inbox once resolved.
      onResolved(`Conflict ${c.conflictId} resolved: ${answer?.summary ?? 'done'}.`);
    } catch (err) {
      setMessage({ kind: 'error', text: `Not resolved: ${err.message}` });
    }
  };
  // The inputs start from the side that still has values: a row deleted in Postgres has none, and starting from it
  // sent every field the operator left alone as empty, wiping the item's values as the row came back.
  const startValues = c.deleted === 'POSTGRES' ? c.sharepointValues : c.postgresValues;
  const saveEdited = () => {
    const chosen = {};
    for (const f of fields) {
      try {
        chosen[f] = editedValue(values[f] ?? editableText(startValues?.[f]), listValued(c, f));
      } catch (err) {
        setMessage({ kind: 'error', text: `Not resolved: "${f}": ${err.message}` });
        return;
      }
    }
    resolve({ values: chosen });
  };
  const key = JSON.stringify(c.sourceIdentity);
  return html`<article
    class="conflict"
    data-conflict=${c.conflictId}
    aria-labelledby=${`conflict-${c.conflictId}`}
  >
    <h3 id=${`conflict-${c.conflictId}`}>
      <input
        type="checkbox"
        id=${`select-${c.conflictId}`}
        checked=${selected}
        onChange=${(e) => onSelect(e.target.checked)}
      />
      <label for=${`select-${c.conflictId}`}>Conflict ${c.conflictId}</label> · ${c.definition} · row
      ${key}${c.spItemId ? ` · item ${c.spItemId}` : ''}
    </h3>
    <p class="muted">
      ${c.reason ?? ''} · detected by ${c.detectedBy === 'PULL' ? 'pull' : 'push'} ${ago(c.createdAt)} ·
      policy ${c.policy}
    </p>
    ${
      deleted
        ? html`<p class="deleted">
            <strong>${deleted.said}</strong> ${deleted.postgres} ${deleted.sharepoint}
          </p>`
        : null
    }
    <table class="diff">
      <thead>
        <tr>
          <th scope="col">Field</th>
          <th scope="col">Last synced</th>
          <th scope="col">Postgres</th>
          <th scope="col">SharePoint</th>
          ${editing ? html`<th scope="col">Resolve to</th>` : null}
        </tr>
      </thead>
      <tbody>
        ${fields.map(
          (f) =>
            html`<tr>
              <td>${f}</td>
              <td>${show(c.baseValues?.[f])}</td>
              <td>${c.deleted === 'POSTGRES' ? '(deleted)' : show(c.postgresValues?.[f])}</td>
              <td>${c.deleted === 'SHAREPOINT' ? '(deleted)' : show(c.sharepointValues?.[f])}</td>
              ${
                editing
                  ? html`<td>
                      <label class="muted" for=${`edit-${c.conflictId}-${f}`}>${f}</label>
                      <input
                        type="text"
                        id=${`edit-${c.conflictId}-${f}`}
                        value=${values[f] ?? editableText(startValues?.[f])}
                        onInput=${(e) => setValues({ ...values, [f]: e.target.value })}
                      />
                    </td>`
                  : null
              }
            </tr>`,
        )}
      </tbody>
    </table>
    <div class="actions">
      <button onClick=${() => resolve({ take: 'postgres' })}>Take Postgres</button>
      <button onClick=${() => resolve({ take: 'sharepoint' })}>Take SharePoint</button>
      ${
        editing
          ? html`<button onClick=${saveEdited}>Save these values</button>
              <button class="secondary" onClick=${() => setEditing(false)}>Cancel</button>`
          : html`<button class="secondary" onClick=${() => setEditing(true)}>Edit values…</button>`
      }
    </div>
    <div aria-live="polite"><${Message} message=${message} /></div>
  </article>`;
}

async function forEachDefinition(path) {
  const { definitions } = await api('definitions');
  const lists = await Promise.all(definitions.map((d) => api(`definitions/${enc(d.name)}/${path}`)));
  return lists;
}

function ConflictsPage() {
  const open = useResource(
    async () => (await forEachDefinition('conflicts?status=OPEN')).flatMap((l) => l.conflicts),
    [],
    REFRESH_MS * 2,
  );
  const resolved = useResource(
    async () => (await forEachDefinition('conflicts?status=RESOLVED')).flatMap((l) => l.conflicts),
    [],
  );
  const [selected, setSelected] = useState(new Set());
  const [message, setMessage] = useState(null);
  const reload = () => {
    open.reload();
    resolved.reload();
  };
  const bulk = async (take) => {
    const ids = [...selected];
    let done = 0;
    const failed = [];
    const summaries = [];
    for (const id of ids) {
      try {
        const answer = await api(`conflicts/${enc(id)}/resolve`, { method: 'POST', body: { take } });
        if (answer?.summary) summaries.push(`${id}: ${answer.summary}`);
        done++;
      } catch (err) {
        failed.push(`${id}: ${err.message}`);
      }
    }
    setSelected(new Set());
    setMessage({
      kind: failed.length ? 'error' : 'info',
      text: `${done} of ${ids.length} resolved by taking ${take}${summaries.length ? ` (${summaries.join('; ')})` : ''}${failed.length ? `; not resolved: ${failed.join('; ')}` : ''}`,
    });
    reload();
  };
  const conflicts = open.data ?? [];
  return html`<section aria-labelledby="conflicts-title">
    <h2 id="conflicts-title">Conflicts inbox</h2>
    <${ErrorNote} error=${open.error} />
    <div class="actions" role="group" aria-label="Bulk resolution">
      <span>${selected.size} selected</span>
      <button disabled=${selected.size === 0} onClick=${() => bulk('postgres')}>
        Take Postgres for selected
      </button>
      <button disabled=${selected.size === 0} onClick=${() => bulk('sharepoint')}>
        Take SharePoint for selected
      </button>
    </div>
    <div aria-live="polite"><${Message} message=${message} /></div>
    ${conflicts.length === 0 && !open.loading ? html`<p>No open conflicts.</p>` : null}
    ${conflicts.map(
      (c) =>
        html`<${ConflictCard}
          key=${c.conflictId}
          c=${c}
          selected=${selected.has(c.conflictId)}
          onResolved=${(text) => {
            setMessage({ kind: 'info', text });
            reload();
          }}
          onSelect=${(on) => {
            const next = new Set(selected);
            if (on) next.add(c.conflictId);
            else next.delete(c.conflictId);
            setSelected(next);
          }}
        />`,
    )}
    <h3>Resolved (audit)</h3>
    <table>
      <thead>
        <tr>
          <th scope="col">Conflict</th>
          <th scope="col">Definition</th>
          <th scope="col">Row</th>
          <th scope="col">Outcome</th>
          <th scope="col">Resolved by</th>
          <th scope="col">When</th>
        </tr>
      </thead>
      <tbody>
        ${(resolved.data ?? []).slice(0, 100).map(
          (c) =>
            html`<tr data-resolved=${c.conflictId}>
              <td>${c.conflictId}</td>
              <td>${c.definition}</td>
              <td>${JSON.stringify(c.sourceIdentity)}</td>
              <td>${c.outcome}</td>
              <td>${c.resolvedBy ?? `policy ${c.policy}`}</td>
              <td>${c.resolvedAt ? new Date(c.resolvedAt).toLocaleString() : ''}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

function FailuresPage() {
  const failures = useResource(
    async () => (await forEachDefinition('failures')).flatMap((l) => l.failures),
    [],
    REFRESH_MS * 2,
  );
  const [selected, setSelected] = useState(new Set());
  const [message, setMessage] = useState(null);
  const list = failures.data ?? [];
  const act = async (verb) => {
    const byDefinition = new Map();
    for (const f of list)
      if (selected.has(f.failureId))
        byDefinition.set(f.definition, [...(byDefinition.get(f.definition) ?? []), f.failureId]);
    const answers = [];
    try {
      for (const [definition, ids] of byDefinition)
        answers.push(
          await api(`definitions/${enc(definition)}/failures/${verb}`, { method: 'POST', body: { ids } }),
        );
      setMessage({
        kind: 'info',
        text: `${verb === 'retry' ? 'Retry' : 'Discard'} of ${selected.size}: ${JSON.stringify(answers)}`,
      });
    } catch (err) {
      setMessage({ kind: 'error', text: `${verb} failed: ${err.message}` });
    }
    setSelected(new Set());
    failures.reload();
  };
  return html`<section aria-labelledby="failures-title">
    <h2 id="failures-title">Parked failures</h2>
    <${ErrorNote} error=${failures.error} />
    <p class="muted">
      Rows and items a run could not apply. Every later run retries them; retry makes them due now, discard
      gives up on them.
    </p>
    <div class="actions" role="group" aria-label="Failure actions">
      <span>${selected.size} selected</span>
      <button disabled=${selected.size === 0} onClick=${() => act('retry')}>Retry selected</button>
      <button class="secondary" disabled=${selected.size === 0} onClick=${() => act('discard')}>
        Discard selected
      </button>
    </div>
    <div aria-live="polite"><${Message} message=${message} /></div>
    <table>
      <thead>
        <tr>
          <th scope="col">Select</th>
          <th scope="col">Definition</th>
          <th scope="col">Direction</th>
          <th scope="col">Row or item</th>
          <th scope="col">Error</th>
          <th scope="col" class="num">Attempts</th>
          <th scope="col">Next retry</th>
        </tr>
      </thead>
      <tbody>
        ${list.map(
          (f) =>
            html`<tr data-failure=${f.failureId}>
              <td>
                <input
                  type="checkbox"
                  id=${`failure-${f.failureId}`}
                  aria-label=${`select failure ${f.failureId}`}
                  checked=${selected.has(f.failureId)}
                  onChange=${(e) => {
                    const next = new Set(selected);
                    if (e.target.checked) next.add(f.failureId);
                    else next.delete(f.failureId);
                    setSelected(next);
                  }}
                />
              </td>
              <td>${f.definition}</td>
              <td>${f.direction}</td>
              <td>${f.sourceIdentity ? JSON.stringify(f.sourceIdentity) : `item ${f.spItemId}`}</td>
              <td>${f.lastError}</td>
              <td class="num">${f.attempts}</td>
              <td>${new Date(f.nextAttemptAt).toLocaleString()}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${list.length === 0 && !failures.loading ? html`<p>No parked failures.</p>` : null}
  </section>`;
}

function RunsPage() {
  const [filter, setFilter] = useState({ definition: '', status: '' });
  const defs = useResource(() => api('definitions'), []);
  const query = new URLSearchParams({ limit: '200' });
  if (filter.definition) query.set('definition', filter.definition);
  if (filter.status) query.set('status', filter.status);
  const runs = useResource(() => api(`runs?${query}`), [filter.definition, filter.status], REFRESH_MS);
  return html`<section aria-labelledby="runs-title">
    <h2 id="runs-title">Runs</h2>
    <div class="actions" role="group" aria-label="Filter runs">
      <label for="runs-definition">Definition</label>
      <select
        id="runs-definition"
        value=${filter.definition}
        onChange=${(e) => setFilter({ ...filter, definition: e.target.value })}
      >
        <option value="">all</option>
        ${(defs.data?.definitions ?? []).map((d) => html`<option value=${d.name}>${d.name}</option>`)}
      </select>
      <label for="runs-status">Status</label>
      <select
        id="runs-status"
        value=${filter.status}
        onChange=${(e) => setFilter({ ...filter, status: e.target.value })}
      >
        <option value="">any</option>
        ${['SUCCEEDED', 'PARTIAL', 'FAILED', 'SKIPPED', 'RUNNING', 'ABANDONED'].map((s) => html`<option value=${s}>${s}</option>`)}
      </select>
    </div>
    <${ErrorNote} error=${runs.error} />
    <${RunsTable} runs=${runs.data?.runs ?? []} showDefinition=${true} />
  </section>`;
}

function routeOf(hash) {
  const path = hash.replace(/^#/, '') || '/';
  const m = /^\/definitions\/([^/]+)$/.exec(path);
  if (m) return { page: 'definition', name: decodeURIComponent(m[1]) };
  if (path === '/conflicts') return { page: 'conflicts' };
  if (path === '/failures') return { page: 'failures' };
  if (path === '/runs') return { page: 'runs' };
  return { page: 'overview' };
}

function KeyField() {
  const [key, setKey] = useState(sessionStorage.getItem(KEY_STORAGE) ?? '');
  return html`<div class="key">
    <label for="ops-key">Key (the master key with OPS_AUTH=key, or the token of serve --token)</label>
    <input
      id="ops-key"
      type="password"
      autocomplete="off"
      value=${key}
      onChange=${(e) => {
        setKey(e.target.value);
        if (e.target.value) sessionStorage.setItem(KEY_STORAGE, e.target.value);
        else sessionStorage.removeItem(KEY_STORAGE);
      }}
    />
  </div>`;
}

function App() {
  const [route, setRoute] = useState(routeOf(location.hash));
  useEffect(() => {
    const onHash = () => setRoute(routeOf(location.hash));
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  const link = (href, label, page) =>
    html`<a href=${href} aria-current=${route.page === page ? 'page' : undefined}>${label}</a>`;
  return html`<header>
      <h1>ArcoreSyncBridge</h1>
      <nav aria-label="Console pages">
        ${link('#/', 'Overview', 'overview')}${link('#/conflicts', 'Conflicts', 'conflicts')}
        ${link('#/failures', 'Failures', 'failures')}${link('#/runs', 'Runs', 'runs')}
      </nav>
      <${KeyField} />
    </header>
    <main>
      ${route.page === 'overview' ? html`<${Overview} />` : null}
      ${route.page === 'definition' ? html`<${DefinitionPage} key=${route.name} name=${route.name} />` : null}
      ${route.page === 'conflicts' ? html`<${ConflictsPage} />` : null}
      ${route.page === 'failures' ? html`<${FailuresPage} />` : null}
      ${route.page === 'runs' ? html`<${RunsPage} />` : null}
    </main>`;
}

const root = document.getElementById('app');
root.textContent = ''; // the "Loading…" placeholder
render(html`<${App} />`, root);

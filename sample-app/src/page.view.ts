/** What the page shows about the current session. */
export interface PageSession {
  id: string;
  startedAt: number;
  lastAccessedAt: number;
  expiresAt: number;
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  attributes: Record<string, unknown>;
}

/** One of the signed-in user's sessions, in the page's list. */
export interface PageSessionEntry {
  id: string;
  startedAt: number;
  lastAccessedAt: number;
  host: string | null;
  /** The session of this browser. */
  current: boolean;
}

/** Everything `GET /` renders. */
export interface PageModel {
  /** The signed-in user, or null for a guest. */
  username: string | null;
  /** The current session, or null when the visitor has none (a guest who stored nothing yet). */
  session: PageSession | null;
  /** Every live session of the signed-in user (null for a guest). */
  sessions: PageSessionEntry[] | null;
  /** Where sessions live: `memory` or `redis`. */
  store: string;
  /** Per-response CSP nonce for the inline style and script. */
  nonce: string;
}

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/** 1_800_000 → "30 min", 28_800_000 → "8 h", 1_500 → "1.5 s". */
export function formatDuration(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1_000, 's'],
  ];
  for (const [size, unit] of units) {
    if (ms >= size) return `${Number((ms / size).toFixed(1))} ${unit}`;
  }
  return `${ms} ms`;
}

function time(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `<time datetime="${iso}" data-ms="${ms}">${iso}</time>`;
}

function sessionDetails(session: PageSession, title: string): string {
  const attributes = Object.entries(session.attributes);
  const attributeRows =
    attributes.length === 0
      ? '<p class="muted">No attributes.</p>'
      : `<table class="attributes"><tbody>${attributes
          .map(
            ([key, value]) =>
              `<tr><th scope="row"><code>${escapeHtml(key)}</code></th><td><code>${escapeHtml(JSON.stringify(value))}</code></td></tr>`,
          )
          .join('')}</tbody></table>`;
  return `
    <section id="session" aria-labelledby="session-title">
      <h2 id="session-title">${escapeHtml(title)}</h2>
      <dl>
        <dt>Session id</dt><dd><code id="session-id">${escapeHtml(session.id)}</code></dd>
        <dt>Started</dt><dd id="session-started">${time(session.startedAt)}</dd>
        <dt>Last access</dt><dd id="session-last-access">${time(session.lastAccessedAt)}</dd>
        <dt>Idle timeout</dt><dd id="session-idle-timeout">${escapeHtml(formatDuration(session.idleTimeoutMs))}</dd>
        <dt>Absolute timeout</dt><dd id="session-absolute-timeout">${escapeHtml(formatDuration(session.absoluteTimeoutMs))}</dd>
        <dt>Expires</dt><dd id="session-expires">${time(session.expiresAt)} <span class="muted">unless used again</span></dd>
      </dl>
      <h3>Attributes</h3>
      ${attributeRows}
    </section>`;
}

const CART_FORM = `
    <form id="cart-form" class="inline">
      <label for="cart-item">Put something in the cart</label>
      <input id="cart-item" name="item" maxlength="100" required placeholder="a rug">
      <button type="submit">Add to cart</button>
    </form>`;

function guestView(model: PageModel): string {
  const session = model.session
    ? sessionDetails(model.session, 'Your guest session')
    : `<section id="session"><h2>No session yet</h2>
      <p class="muted">Nothing is stored for a guest until something needs a session: put an item in the cart, or sign in.</p></section>`;
  return `
    <section id="sign-in" aria-labelledby="sign-in-title">
      <h2 id="sign-in-title">Sign in</h2>
      <form id="login-form" method="post" action="/api/login">
        <label for="username">Username</label>
        <input id="username" name="username" autocomplete="username" required maxlength="128">
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024">
        <button id="login-button" type="submit">Sign in</button>
        <p id="login-error" class="error" role="alert" hidden></p>
      </form>
      <p class="muted">Accounts: <code>thedude</code> / <code>letsgobowling</code>, <code>walter</code> / <code>shomer-shabbos</code>.</p>
    </section>
    ${session}
    ${CART_FORM}`;
}

function sessionList(sessions: PageSessionEntry[]): string {
  const items = sessions
    .map((s) => {
      const id = escapeHtml(s.id);
      return `
        <li class="session-entry" data-session-id="${id}">
          <code title="${id}">${escapeHtml(s.id.slice(0, 10))}…</code>${s.current ? ' <strong class="this-browser">(this browser)</strong>' : ''}
          <span class="muted">from ${escapeHtml(s.host ?? 'unknown')}, signed in ${time(s.startedAt)}, last used ${time(s.lastAccessedAt)}</span>
          <button type="button" class="session-sign-out" data-session-id="${id}">Sign out</button>
        </li>`;
    })
    .join('');
  return `
    <section id="sessions" aria-labelledby="sessions-title">
      <h2 id="sessions-title">Your sessions</h2>
      <ul id="session-list">${items}</ul>
      ${sessions.length > 1 ? '<button id="revoke-others-button" type="button">Sign out every other session</button>' : ''}
    </section>`;
}

function userView(model: PageModel): string {
  return `
    <section id="signed-in">
      <p class="signed-in">Signed in as <strong id="current-user">${escapeHtml(model.username)}</strong></p>
      <button id="logout-button" type="button">Sign out</button>
    </section>
    ${model.session ? sessionDetails(model.session, 'Your session') : ''}
    ${model.sessions ? sessionList(model.sessions) : ''}
    ${CART_FORM}`;
}

const STYLE = `
  body { font: 16px/1.5 system-ui, sans-serif; margin: 0; background: #f4f1ea; color: #222; }
  main { max-width: 44rem; margin: 2rem auto; padding: 1.5rem 2rem; background: #fff; border-radius: 8px;
         box-shadow: 0 1px 4px rgba(0,0,0,.12); }
  h1 { margin-top: 0; font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 1.5rem; } h3 { font-size: 1rem; }
  label { display: block; margin-top: .6rem; font-weight: 600; }
  input { font: inherit; padding: .35rem .5rem; width: 16rem; max-width: 100%; border: 1px solid #aaa; border-radius: 4px; }
  button { font: inherit; margin-top: .8rem; padding: .4rem 1rem; border: 0; border-radius: 4px; background: #3b5b8c; color: #fff; cursor: pointer; }
  #login-form input, #login-form button { display: block; }
  form.inline { margin-top: 1.5rem; } form.inline label { margin-top: 0; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; } dt { font-weight: 600; } dd { margin: 0; }
  code { font-size: .85em; word-break: break-all; } .muted { color: #666; } .error { color: #a00; }
  .signed-in { font-size: 1.2rem; } table.attributes th { text-align: left; padding-right: 1rem; }
  #session-list { padding-left: 1.2rem; } .session-entry { margin-bottom: .6rem; } .session-entry button { margin: 0 0 0 .5rem; padding: .1rem .6rem; }
  footer { margin-top: 2rem; font-size: .85rem; color: #666; }`;

const SCRIPT = `
  const $ = (id) => document.getElementById(id);
  async function send(method, url, body) {
    const init = { method, credentials: 'same-origin', headers: {} };
    if (body !== undefined) { init.headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
    const response = await fetch(url, init);
    let data = null;
    try { data = await response.json(); } catch { /* 204 or not JSON */ }
    return { ok: response.ok, status: response.status, data, retryAfter: response.headers.get('Retry-After') };
  }
  const messageOf = (r) => {
    const text = r.data && r.data.message ? [].concat(r.data.message).join('; ') : 'HTTP ' + r.status;
    // 429: too many failed logins for this username (or address); say when to try again.
    const s = Number(r.retryAfter);
    if (r.status === 429 && Number.isInteger(s) && s > 0) {
      return text + ' (try again in ' + (s >= 120 ? Math.ceil(s / 60) + ' minutes' : s + ' seconds') + ').';
    }
    return text;
  };
  function fail(id, text) { const el = $(id); el.textContent = text; el.hidden = false; }
  for (const t of document.querySelectorAll('time[data-ms]')) t.textContent = new Date(Number(t.dataset.ms)).toLocaleString();
  $('login-form')?.addEventListener('submit', async (event) => {
    event.preventDefault();
    const r = await send('POST', '/api/login', { username: $('username').value, password: $('password').value });
    if (r.ok) location.assign('/'); else fail('login-error', messageOf(r));
  });
  $('logout-button')?.addEventListener('click', async () => {
    const r = await send('POST', '/api/logout');
    if (r.ok) location.assign('/'); else fail('page-error', messageOf(r));
  });
  for (const button of document.querySelectorAll('button.session-sign-out')) {
    button.addEventListener('click', async () => {
      const r = await send('DELETE', '/api/sessions/' + encodeURIComponent(button.dataset.sessionId));
      if (r.ok) location.assign('/'); else fail('page-error', messageOf(r));
    });
  }
  $('revoke-others-button')?.addEventListener('click', async () => {
    const r = await send('POST', '/api/sessions/revoke-others');
    if (r.ok) location.assign('/'); else fail('page-error', messageOf(r));
  });
  $('cart-form')?.addEventListener('submit', async (event) => {
    event.preventDefault();
    const current = await send('GET', '/api/session/attributes/cart');
    const cart = current.ok && Array.isArray(current.data.value) ? current.data.value : [];
    cart.push($('cart-item').value);
    const r = await send('PUT', '/api/session/attributes/cart', { value: cart });
    if (r.ok) location.assign('/'); else fail('page-error', messageOf(r));
  });`;

/** The whole page. Everything that comes from a request or a session is escaped. */
export function renderPage(model: PageModel): string {
  const nonce = escapeHtml(model.nonce);
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>nestjs-yosai sample</title>
  <link rel="icon" href="data:,">
  <style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<main>
  <h1>nestjs-yosai sample</h1>
  <noscript><p class="error">Signing in from this page needs JavaScript; the JSON API works without it.</p></noscript>
  <p id="page-error" class="error" role="alert" hidden></p>
  ${model.username === null ? guestView(model) : userView(model)}
  <footer>
    Sessions are stored in <strong id="store-kind">${escapeHtml(model.store)}</strong>.
    JSON: <a href="/api/me">/api/me</a> · <a href="/api/session">/api/session</a> · <a href="/api/events">/api/events</a>
  </footer>
</main>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>
`;
}

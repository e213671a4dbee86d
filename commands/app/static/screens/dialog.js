/**
 * The dialog of a client (F7) and its reply box; screens/client.js mounts both under the card.
 * Also the "chatview" screen: which kinds of messages dialogs show.
 *
 * Live arrival polls GET /clients/{id}/changes every POLL_MS. A failed poll (the phone lost its
 * network, the service restarted) shows "Reconnecting…" and retries with a growing pause (at
 * most MAX_PAUSE_MS), at once when the browser says it is online again; nothing is missed,
 * since each poll asks for everything after the newest message on screen.
 */
import { api, ApiError, can, el, haptic, registerScreen, state, toast } from "../app.js";

const POLL_MS = 3000;
const MAX_PAUSE_MS = 15000;
const API_ROOT = "/app/api/v1";

function bubble(message) {
  const side = message.kind === "comment" ? "note" : message.kind === "system" ? "event"
    : message.direction === "in" ? "in" : "out";
  const status = message.status
    ? el("span", { class: "status", title: message.status }, message.status_mark) : null;
  return el("div", { class: `msg ${side}`, dataset: { id: message.id, status: message.status || "" } },
    el("div", { class: "msg-head" }, el("span", { class: "who" }, message.label),
      el("span", { class: "when" }, message.time), status),
    message.subject ? el("div", { class: "subject" }, message.subject) : null,
    message.text ? el("div", { class: "text" }, message.text) : null,
    ...message.files.map((file) => el("div", { class: "file" }, `📎 ${file.kind}`,
      file.name ? `: ${file.name}` : "")),
    message.deleted ? el("div", { class: "muted" }, "(deleted by the client)") : null,
    message.error ? el("div", { class: "error-line" }, `Not delivered: ${message.error}`) : null);
}

/** Show the dialog of `clientId` in `container`; returns {stop, refresh}. */
export function mountDialog(container, clientId) {
  const list = el("div", { class: "messages", id: "messages" });
  const older = el("button", { class: "plain", id: "older", hidden: true }, "Older messages");
  const banner = el("div", { class: "banner", id: "reconnecting", hidden: true }, "Reconnecting…");
  const hidden = el("p", { class: "muted small", id: "hidden-kinds", hidden: true });
  container.append(banner, hidden, older, list);
  let oldest = null;
  let newest = 0;
  let since = null;
  let timer = null;
  let stopped = false;
  let pause = POLL_MS;

  const nearBottom = () =>
    window.innerHeight + window.scrollY >= document.body.scrollHeight - 120;
  const toBottom = () => window.scrollTo(0, document.body.scrollHeight);

  async function loadPage(before) {
    const page = await api("GET", `/clients/${clientId}/messages`,
      before ? { before } : undefined);
    const nodes = page.messages.map(bubble);
    if (before) {
      const height = document.body.scrollHeight;
      list.prepend(...nodes);
      window.scrollBy(0, document.body.scrollHeight - height); // keep the reader's place
    } else {
      list.replaceChildren(...nodes);
      newest = page.newest_id;
      since = page.since;
      if (!nodes.length) list.append(el("p", { class: "muted", id: "empty" }, "No messages yet."));
    }
    if (page.messages.length) oldest = page.messages[0].id;
    older.hidden = !page.more;
    hidden.hidden = !page.hidden_kinds.length;
    hidden.textContent = `Hidden by your dialog view: ${page.hidden_kinds.join(", ")}.`;
  }

  older.addEventListener("click", () => { haptic.selection(); loadPage(oldest); });

  async function poll() {
    if (stopped) return;
    try {
      const query = { after: newest, seen: document.visibilityState === "visible" };
      if (since) query.since = since;
      const changes = await api("GET", `/clients/${clientId}/changes`, query, { quiet: true });
      const follow = nearBottom();
      document.getElementById("empty")?.remove();
      for (const message of changes.messages) {
        if (!list.querySelector(`[data-id="${message.id}"]`)) list.append(bubble(message));
        if (message.direction === "in") haptic.notify("success");
      }
      for (const message of changes.updated) {
        list.querySelector(`[data-id="${message.id}"]`)?.replaceWith(bubble(message));
      }
      newest = changes.newest_id;
      since = changes.since;
      if (changes.messages.length && follow) toBottom();
      banner.hidden = true;
      pause = POLL_MS;
    } catch (err) {
      banner.hidden = false;
      pause = Math.min(pause * 2, MAX_PAUSE_MS);
      if (err instanceof ApiError && err.status === 404) { stop(); banner.textContent = err.message; return; }
    }
    schedule(pause);
  }

  function schedule(ms) {
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(poll, ms);
  }
  const online = () => schedule(0);
  window.addEventListener("online", online);

  function stop() {
    stopped = true;
    clearTimeout(timer);
    window.removeEventListener("online", online);
  }

  const ready = loadPage(null).then(() => { toBottom(); schedule(POLL_MS); });
  return { stop, ready, pollNow: () => schedule(0) };
}

async function upload(path, form) {
  // Files go as multipart/form-data, so not through api() (JSON); same session, same renewal.
  const send = () => fetch(API_ROOT + path, {
    method: "POST", headers: { Authorization: `Bearer ${state.token}` }, body: form });
  let response;
  try {
    response = await send();
    if (response.status === 401) {
      await api("GET", "/me", undefined, { quiet: true }); // renews the session with initData
      response = await send();
    }
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError(0, "the service cannot be reached; check the connection");
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data.error || `HTTP ${response.status}`);
  return data;
}

function megabytes(bytes) {
  return `${(bytes / 1048576).toFixed(1)} MB`;
}

/** The reply box at the bottom: text, photos and documents, or an internal comment. */
export function mountComposer(container, card, onSent) {
  const files = [];
  const chips = el("div", { class: "chips", id: "attached" });
  const text = el("textarea", { id: "reply-text", rows: 1, maxlength: 4096,
    placeholder: `Message to ${card.name}` });
  const comment = el("input", { type: "checkbox", id: "as-comment" });
  const pick = (kind, accept) => {
    const input = el("input", { type: "file", accept, multiple: true, hidden: true,
      id: `pick-${kind}` });
    input.addEventListener("change", () => {
      for (const file of input.files) {
        const limit = card.upload_limits[kind];
        if (file.size > limit) {
          toast(`${file.name}: a ${kind} to ${card.messenger} may have at most ${megabytes(limit)}`,
            { error: true });
          haptic.notify("error");
          continue;
        }
        files.push({ kind, file });
      }
      input.value = "";
      drawChips();
    });
    return input;
  };
  const photoInput = pick("photo", "image/jpeg,image/png");
  const documentInput = pick("document", card.document_types.map((ext) => `.${ext}`).join(","));
  function drawChips() {
    chips.replaceChildren(...files.map((entry, i) => el("span", { class: "chip" },
      `${entry.kind === "photo" ? "🖼" : "📄"} ${entry.file.name}`,
      el("button", { class: "plain", "aria-label": "Remove", onclick: () => {
        files.splice(i, 1); drawChips(); } }, "✕"))));
    comment.disabled = files.length > 0;
  }
  const send = el("button", { id: "send", "aria-label": "Send" }, "Send");
  async function submit() {
    const body = text.value;
    if (!body.trim() && !files.length) return;
    send.disabled = true;
    try {
      let answer;
      if (files.length) {
        const form = new FormData();
        if (body.trim()) form.append("text", body);
        for (const entry of files) form.append(entry.kind, entry.file, entry.file.name);
        answer = await upload(`/clients/${card.id}/upload`, form);
      } else {
        const what = comment.checked ? "comment" : "reply";
        answer = await api("POST", `/clients/${card.id}/${what}`, { text: body });
      }
      text.value = "";
      files.length = 0;
      drawChips();
      haptic.notify("success");
      toast(answer.notice);
      onSent();
    } catch (err) {
      if (files.length) { toast(err.message, { error: true }); haptic.notify("error"); }
    } finally {
      send.disabled = false;
    }
  }
  send.addEventListener("click", submit);
  const attach = el("div", { class: "attach" },
    el("button", { class: "plain", id: "attach-photo", "aria-label": "Attach a photo",
      onclick: () => { haptic.selection(); photoInput.click(); } }, "🖼"),
    el("button", { class: "plain", id: "attach-document", "aria-label": "Attach a document",
      onclick: () => { haptic.selection(); documentInput.click(); } }, "📎"));
  const box = el("footer", { class: "composer", id: "composer" }, chips,
    el("div", { class: "composer-row" }, attach, text, send),
    el("label", { class: "muted small" }, comment, " Internal comment (never sent)"),
    photoInput, documentInput);
  if (!can("reply")) {
    box.replaceChildren(el("p", { class: "muted small" },
      "Replying needs the 'reply' permission; an admin can grant it."));
  }
  container.append(box);
  return box;
}

registerScreen("chatview", {
  start: -1, // never the first screen by itself: opened from others or by a link
  title: "Dialog view",
  async render(root) {
    const section = el("section", { class: "section", id: "chatview" },
      el("h2", {}, "Dialogs show"));
    root.append(section);
    const draw = (view) => section.replaceChildren(el("h2", {}, "Dialogs show"),
      ...view.kinds.map((kind) => el("label", { class: "row", dataset: { kind: kind.kind } },
        el("span", { class: "grow" }, kind.label),
        el("input", { type: "checkbox", checked: kind.shown, onchange: async () => {
          haptic.selection();
          draw(await api("POST", "/chatview", { kind: kind.kind }));
        } }))));
    draw(await api("GET", "/chatview"));
  },
});

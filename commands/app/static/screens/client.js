/**
 * The client screen (/app/?screen=client&id=42): the card (F14) with its menu, then the dialog
 * and the reply box (screens/dialog.js). Opening it marks the dialog read, as the admin bot's
 * /client does. Every menu action is the admin bot's own button on the server.
 */
import { api, el, goBack, haptic, navigate, registerScreen, setUnread, toast } from "../app.js";
import { confirmSheet, openSheet } from "../sheet.js";
import { mountComposer, mountDialog } from "./dialog.js";

const ACTION_LABELS = {
  mark_unread: "🔵 Mark unread",
  pin: "📌 Pin",
  unpin: "Unpin",
  block: "⛔ Block",
  unblock: "Unblock",
  delete: "🗑 Delete",
  assign: "👤 Assign",
  lists: "Lists",
  labels: "Labels",
};

function badges(card) {
  const marks = [];
  if (card.pinned) marks.push(el("span", { class: "tag", id: "pinned" }, "📌 pinned"));
  if (card.unread) marks.push(el("span", { class: "tag" }, "🔵 unread"));
  if (card.blocked) marks.push(el("span", { class: "tag tag-danger", id: "blocked" }, "blocked"));
  if (card.unsubscribed) marks.push(el("span", { class: "tag tag-danger" }, "unsubscribed"));
  if (card.paused) marks.push(el("span", { class: "tag" }, "paused"));
  return marks;
}

function cardView(card, act) {
  // Avatars are this service's own /media/ URLs; anything else is not loaded (CSP: img 'self').
  const avatar = card.avatar_url && card.avatar_url.startsWith("/")
    ? el("img", { class: "avatar", src: card.avatar_url, alt: "" })
    : el("span", { class: "avatar" }, card.icon);
  const details = el("details", { class: "details", id: "card-details" },
    el("summary", {}, "Client data"),
    ...card.fields.map((field) => el("div", { class: "card-field", dataset: { key: field.key } },
      el("span", { class: "muted" }, field.label), el("span", {}, field.value))),
    ...Object.entries(card.variables).map(([name, value]) => el("div", { class: "card-field" },
      el("span", { class: "muted" }, name), el("span", {}, value))),
    card.business ? el("p", { class: "muted small" }, card.business) : null);
  const menu = card.actions.filter((name) => ACTION_LABELS[name]).map((name) =>
    el("button", { class: name === "delete" ? "chip chip-danger" : "chip", dataset: { action: name },
      onclick: () => { haptic.selection(); act(name); } }, ACTION_LABELS[name]));
  return el("section", { class: "section client-card", id: "card", dataset: { client: card.id } },
    el("div", { class: "row" }, avatar,
      el("div", { class: "grow" },
        el("div", { class: "card-name" }, el("strong", {}, card.name), ` #${card.id}`),
        el("div", { class: "muted small" }, `${card.icon} ${card.bot} · `,
          el("span", { id: "responsible" }, card.responsible)),
        el("div", { class: "tags" }, ...badges(card)))),
    ...card.join_requests.map((request) => el("div", { class: "row join",
      dataset: { join: request.id } },
      el("span", { class: "grow" }, `Asks to join «${request.chat}»`),
      el("button", { class: "chip", dataset: { action: "approve_join" },
        onclick: () => act("approve_join", request.id) }, "✅ Approve"),
      el("button", { class: "chip chip-danger", dataset: { action: "decline_join" },
        onclick: () => act("decline_join", request.id) }, "❌ Decline"))),
    card.read_only
      ? el("p", { class: "muted small", id: "read-only" },
        "Another operator's client: you can read, not act.")
      : el("div", { class: "chips menu", id: "card-menu" }, ...menu),
    (card.lists.length || card.labels.length) ? el("div", { class: "muted small pad" },
      card.lists.length ? `Lists: ${card.lists.join(", ")}` : "",
      card.lists.length && card.labels.length ? " · " : "",
      card.labels.length ? `Labels: ${card.labels.join(", ")}` : "") : null,
    details);
}

async function picker(card, kind, after) {
  const title = { operators: "Who answers this client?", lists: "Lists", labels: "Labels" }[kind];
  const body = el("div", { class: "pick-list", id: `pick-${kind}` });
  const sheet = openSheet(title, body);
  async function draw() {
    const { choices } = await api("GET", `/clients/${card.id}/choices`, { kind });
    body.replaceChildren(...choices.map((choice) => el("div", {
      class: "row", role: "button", tabindex: "0", dataset: { choice: choice.name },
      onclick: async () => {
        haptic.selection();
        const action = kind === "operators" ? "assign" : kind === "lists" ? "toggle_list"
          : "toggle_label";
        const answer = await api("POST", `/clients/${card.id}/action`,
          { action, arg: String(choice.id) });
        toast(answer.notice);
        after(answer.card);
        if (kind === "operators") sheet.close(); else draw();
      },
    }, el("span", { class: "grow" }, choice.name), choice.selected ? "✅" : "")));
    if (kind !== "operators") {
      const name = el("input", { id: `new-${kind}`, placeholder: `New ${kind.slice(0, -1)}…`,
        maxlength: 200 });
      body.append(el("form", { class: "row", onsubmit: async (event) => {
        event.preventDefault();
        if (!name.value.trim()) return;
        const answer = await api("POST", `/clients/${card.id}/named`,
          { kind: kind.slice(0, -1), name: name.value });
        toast(answer.notice);
        haptic.notify("success");
        after(answer.card);
        draw();
      } }, name, el("button", { type: "submit" }, "Add")));
    }
  }
  await draw();
}

registerScreen("client", {
  start: -1, // never the first screen by itself: opened from others or by a link
  title: (params) => `Client #${params.id}`,
  async render(root, params) {
    const id = Number(params.id);
    if (!Number.isInteger(id) || id <= 0) {
      root.append(el("p", { class: "muted" }, "No such client."));
      return undefined;
    }
    let card = await api("GET", `/clients/${id}/card`, { open: true });
    // Opening may have read the dialog: the header's unread counter (F15) follows.
    api("GET", "/me", undefined, { quiet: true }).then((me) => setUnread(me.unread), () => {});
    document.getElementById("title").textContent = card.name;
    const top = el("div", {});
    root.append(top);
    let live = null;
    const draw = (next) => {
      card = next;
      top.replaceChildren(cardView(card, act));
    };
    async function act(name, arg = "") {
      if (name === "assign" || name === "lists" || name === "labels") {
        await picker(card, name === "assign" ? "operators" : name, draw);
        return;
      }
      if (name === "delete") {
        const yes = await confirmSheet(
          `Delete client ${card.id} (${card.name}) with all their messages? This cannot be undone.`,
          "Delete");
        if (!yes) { toast("Cancelled: nothing was deleted."); return; }
      }
      const answer = await api("POST", `/clients/${card.id}/action`,
        { action: name, arg: String(arg) });
      haptic.notify("success");
      toast(answer.notice);
      if (answer.card) draw(answer.card); else goBack();
    }
    draw(card);
    const dialog = el("section", { class: "section dialog", id: "dialog" });
    root.append(
      el("div", { class: "dialog-bar" }, el("button", { class: "plain small", id: "open-chatview",
        onclick: () => { haptic.selection(); navigate("chatview"); } }, "Dialog view…")),
      dialog);
    live = mountDialog(dialog, id);
    await live.ready;
    if (!card.read_only) mountComposer(root, card, () => live.pollNow());
    return () => live.stop();
  },
});

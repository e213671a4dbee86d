/**
 * The "More" screen: what is not about a selection of the list — write to a new WhatsApp number
 * (F1) or email address (F2), mark everything read (F3), the list cards' preview fields (F6) and
 * delete the unsubscribed (F8). Each calls the admin bot's own function on the server
 * (commands/app/tools.py); the mass actions count first and run only once confirmed.
 */
import { api, can, el, haptic, navigate, refreshMe, registerScreen, toast } from "../app.js";
import { confirmSheet } from "../sheet.js";

function field(label, input) {
  return [el("label", { class: "muted small" }, label), input];
}

function writeSection(tools) {
  const kinds = [];
  if (tools.whatsapp_bots.length) kinds.push(["whatsapp", "WhatsApp", tools.whatsapp_bots]);
  if (tools.email_bots.length) kinds.push(["email", "Email", tools.email_bots]);
  if (!tools.can_write || !kinds.length) return null;
  let kind = kinds[0][0];
  const section = el("section", { class: "section", id: "write" }, el("h2", {}, "Write to a new contact"));
  const tabs = el("div", { class: "chips pad", role: "tablist" });
  const form = el("div", { class: "pad" });
  const result = el("div", {});
  section.append(tabs, form, result);

  function draw() {
    const [, , bots] = kinds.find(([name]) => name === kind);
    tabs.replaceChildren(...kinds.map(([name, label]) => el("button", {
      class: name === kind ? "chip active" : "chip", dataset: { kind: name },
      onclick: () => { haptic.selection(); kind = name; draw(); },
    }, label)));
    // The bot is asked only when there is a choice (the server refuses a missing one then too).
    const bot = el("select", { id: "write-bot" }, ...bots.map((name) => el("option", { value: name }, name)));
    const to = el("input", kind === "whatsapp"
      ? { id: "write-to", type: "tel", placeholder: "+7 916 123-45-67", autocomplete: "off" }
      : { id: "write-to", type: "email", placeholder: "name@example.com", autocomplete: "off" });
    const subject = el("input", { id: "write-subject", placeholder: "Subject", maxlength: 500 });
    const text = el("textarea", { id: "write-text", rows: 4, maxlength: 4096, placeholder: "The first message" });
    const send = el("button", { id: "write-send" }, "Send");
    send.addEventListener("click", async () => {
      send.disabled = true;
      try {
        const body = { bot: bots.length > 1 ? bot.value : "", text: text.value };
        const done = kind === "whatsapp"
          ? await api("POST", "/write/whatsapp", { ...body, phone: to.value })
          : await api("POST", "/write/email", { ...body, address: to.value, subject: subject.value });
        haptic.notify("success");
        text.value = "";
        result.replaceChildren(el("div", { class: "row", id: "write-done" },
          el("span", { class: "grow small" }, done.message),
          el("button", { class: "plain", id: "write-open",
            onclick: () => navigate("client", { id: done.client_id }) }, "Open")));
      } catch (err) {
        // api() already showed the one line.
      } finally {
        send.disabled = false;
      }
    });
    form.replaceChildren(
      ...(bots.length > 1 ? field("Bot", bot) : []),
      ...field(kind === "whatsapp" ? "Phone number" : "Address", to),
      ...(kind === "email" ? field("Subject", subject) : []),
      ...field("Message", text),
      el("div", { style: "margin-top: 8px" }, send));
    result.replaceChildren();
  }
  draw();
  return section;
}

/** Count, ask, then run once: the plan's token is spent by confirm, dropped by Cancel. */
async function planned(kind, ok, { destructive }) {
  const plan = await api("POST", `/${kind}/plan`);
  if (!plan.token) { toast(plan.question); return; }
  const yes = await confirmSheet(plan.question, ok, { destructive });
  if (!yes) {
    await api("POST", "/tools/cancel", { kind, token: plan.token });
    return;
  }
  const done = await api("POST", `/${kind}/confirm`, { token: plan.token });
  haptic.notify("success");
  toast(done.message);
  refreshMe();
}

function actionRow(id, label, onclick, danger = false) {
  return el("div", { class: "row", role: "button", tabindex: "0", id,
    onclick: () => { haptic.selection(); onclick().catch(() => {}); } },
  el("span", { class: "grow", style: danger ? "color: var(--destructive)" : null }, label), "›");
}

async function previewSection() {
  const preview = await api("GET", "/preview");
  const boxes = preview.fields.map((f) => el("input", { type: "checkbox", value: f.key,
    checked: f.shown, style: "width: auto", dataset: { field: f.key } }));
  const variables = el("input", { id: "preview-variables", value: preview.variables.join(", "),
    placeholder: "city, plan" });
  const save = el("button", { id: "preview-save" }, "Save");
  save.addEventListener("click", async () => {
    const chosen = boxes.filter((box) => box.checked).map((box) => box.value);
    const names = variables.value.split(",").map((v) => v.trim()).filter(Boolean);
    try {
      await api("PUT", "/preview", { fields: chosen, variables: names });
      haptic.notify("success");
      toast("Saved: the list's cards show these now.");
    } catch (err) {
      // api() already showed the one line.
    }
  });
  return el("section", { class: "section", id: "preview" },
    el("h2", {}, "What list cards show"),
    ...preview.fields.map((f, i) => el("label", { class: "row" },
      boxes[i], el("span", { class: "grow" }, f.label))),
    el("div", { class: "pad" }, ...field("Variables (comma-separated)", variables)),
    el("div", { class: "pad" }, save));
}

registerScreen("more", {
  start: -1, // opened from the home menu
  title: "More",
  menu: "🧰 Write to new contacts, mark all read, card preview",
  async render(root) {
    const tools = await api("GET", "/tools");
    const actions = el("section", { class: "section", id: "mass" }, el("h2", {}, "Everyone"),
      actionRow("readall", "Mark everything read",
        () => planned("readall", "Mark read", { destructive: false })));
    if (tools.can_purge || can("purge")) {
      actions.append(actionRow("purge", "Delete blocked and unsubscribed clients",
        () => planned("purge", "Delete", { destructive: true }), true));
    }
    root.append(...[writeSection(tools), actions, await previewSection()].filter(Boolean));
  },
});

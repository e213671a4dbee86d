// The client list (F6, F9-F13, F15): the five tabs with their counts, the filter bar with
// completion and saved filters, infinite scroll on keyset pages, selection ("select all N
// matching" sends the filter, never the ids) and every bulk action after a count and a
// confirmation; export as a document to the operator's chat. API: docs/app-api.md.
import {
  api, can, el, haptic, mainButton, navigate, registerScreen, setUnread, toast,
} from "../app.js";

document.head.append(el("link", { rel: "stylesheet", href: new URL("./list.css", import.meta.url).href }));

const ARGUMENT_PROMPTS = {
  lists: "List names, separated by commas",
  labels: "Labels, separated by commas",
  operator: "Operator: name, Telegram id, me or none",
};
const PER_PAGE = 30;
const VIA = { telegram: "TG", whatsapp: "WA", email: "@" }; // text, not emoji: every font has it

function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

class ClientList {
  constructor(root, params) {
    this.root = root;
    this.params = params; // the router's own object: what is kept here is shown on Back
    this.filter = params.filter || "";
    this.tab = params.tab || "all";
    this.cursor = null;
    this.loading = false;
    this.generation = 0; // answers to an older filter or tab are dropped
    this.count = null; // the tab's count as shown, and its value
    this.selecting = false;
    this.all = false;
    this.picked = new Set();
    this.actions = null;
  }

  start() {
    this.build();
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.loadMore();
    }, { rootMargin: "400px" });
    this.observer.observe(this.sentinel);
    this.reload();
    return () => {
      this.observer.disconnect();
      mainButton.hide();
      this.sheet.remove();
    };
  }

  build() {
    this.input = el("input", {
      id: "filter", type: "search", value: this.filter, autocomplete: "off", spellcheck: "false",
      placeholder: "Filter: unanswered list:VIP label:…", "aria-label": "Filter",
    });
    const apply = debounce(() => this.applyFilter(), 600);
    const suggest = debounce(() => this.suggest(), 150);
    this.input.addEventListener("input", () => { apply(); suggest(); });
    this.input.addEventListener("click", suggest);
    this.input.addEventListener("keyup", (e) => { if (e.key.startsWith("Arrow")) suggest(); });
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") { e.preventDefault(); this.hideCompletions(); this.applyFilter(); }
    });
    this.input.addEventListener("blur", () => setTimeout(() => this.hideCompletions(), 200));
    this.error = el("p", { id: "filter-error", class: "filter-error", hidden: true });
    this.completions = el("ul", { id: "completions", class: "completions", hidden: true });
    this.tabs = el("nav", { id: "tabs", class: "tabs" });
    this.bar = el("div", { id: "select-bar", class: "select-bar" });
    this.list = el("ul", { id: "clients", class: "cards" });
    this.sentinel = el("div", { id: "sentinel" });
    this.end = el("p", { id: "list-end", class: "muted list-end" });
    this.sheet = el("div", { id: "sheet", class: "sheet", hidden: true });
    this.root.append(
      el("div", { class: "list-top" },
        el("div", { class: "filter-row" }, this.input,
          el("button", { id: "saved-button", class: "plain", "aria-label": "Saved filters",
            onclick: () => this.openSaved() }, "★")),
        this.error, this.completions, this.tabs, this.bar),
      this.list, this.sentinel, this.end);
    document.body.append(this.sheet);
  }

  // ---- loading ------------------------------------------------------------------------------
  applyFilter() {
    const text = this.input.value.trim();
    if (text === this.filter && this.error.hidden) return; // nothing new to ask
    this.filter = text;
    this.reload();
  }

  async reload({ tabs = true } = {}) {
    this.generation += 1;
    Object.assign(this.params, { filter: this.filter, tab: this.tab });
    if (tabs) this.loadTabs(this.generation); // beside the page: each is drawn when it comes
    this.cursor = null;
    this.all = false;
    this.picked.clear();
    this.list.replaceChildren();
    this.end.textContent = "Loading…";
    await this.loadPage(true);
  }

  async loadMore() {
    if (this.cursor && !this.loading) await this.loadPage(false);
  }

  async loadPage(first) {
    const generation = this.generation;
    this.loading = true;
    const query = { filter: this.filter, tab: this.tab, per_page: PER_PAGE };
    if (!first) Object.assign(query, { after: this.cursor, count: this.count.value, exact: this.count.exact });
    try {
      const page = await api("GET", "/clients", query, { quiet: first });
      if (generation !== this.generation) return;
      if (first) {
        this.error.hidden = true;
        this.count = { text: page.count, value: page.value, exact: page.exact };
        this.markTab();
        setUnread(page.unread);
      }
      for (const card of page.cards) this.list.append(this.drawCard(card));
      this.cursor = page.next_cursor;
      this.end.textContent = this.cursor ? "" : (this.list.children.length ? "That is all." : "No clients here.");
      this.drawBar();
    } catch (err) {
      if (generation !== this.generation) return;
      if (first) { // a bad filter: its one line under the bar, the list empty
        this.error.textContent = err.message;
        this.error.hidden = false;
        this.end.textContent = "";
        this.count = null;
        this.drawBar();
      }
    } finally {
      if (generation === this.generation) this.loading = false;
    }
    // A short first page may leave the sentinel in view: keep filling the screen.
    if (this.cursor && generation === this.generation) {
      const box = this.sentinel.getBoundingClientRect();
      if (box.top < window.innerHeight + 400) this.loadMore();
    }
  }

  async loadTabs(generation) {
    let answer;
    try {
      answer = await api("GET", "/clients/tabs", { filter: this.filter }, { quiet: true });
    } catch { // the page's request shows what was wrong; no old counts stay
      if (generation === this.generation) {
        for (const count of this.tabs.querySelectorAll(".count")) count.textContent = "–";
      }
      return;
    }
    if (generation !== this.generation) return;
    this.tabs.replaceChildren(...answer.tabs.map((tab) => el("button", {
      class: "tab", dataset: { tab: tab.name },
      onclick: () => { haptic.selection(); this.tab = tab.name; this.reload({ tabs: false }); },
    }, tab.label, el("span", { class: "count" }, tab.count))));
    this.markTab();
  }

  // ---- drawing ------------------------------------------------------------------------------
  markTab() {
    for (const button of this.tabs.children) {
      const on = button.dataset.tab === this.tab;
      button.classList.toggle("active", on);
      button.setAttribute("aria-pressed", String(on));
    }
  }

  drawCard(card) {
    const checked = this.all || this.picked.has(card.id);
    const title = el("div", { class: "card-title" },
      this.selecting ? el("span", { class: "check" }, checked ? "☑" : "☐") : null,
      card.unread ? el("span", { class: "dot", title: "unread" }) : null,
      el("span", { class: `via via-${card.messenger}`, title: card.messenger }, VIA[card.messenger] || card.icon),
      el("span", { class: "name" }, card.name),
      el("span", { class: "muted cid" }, `#${card.id}`),
      card.pinned ? el("span", { class: "pin" }, "pinned") : null,
      ...card.marks.map((mark) => el("span", { class: "mark" }, mark)));
    const fields = card.fields.map((f) => el("div", { class: "field" },
      el("span", { class: "muted" }, `${f.label}: `), f.value));
    const item = el("li", {
      class: "card" + (card.unread ? " unread" : "") + (checked && this.selecting ? " selected" : ""),
      dataset: { id: card.id }, role: "button", tabindex: "0",
      onclick: () => this.tap(card, item),
    }, title, ...fields);
    item.card = card;
    return item;
  }

  redrawCards() {
    for (const item of [...this.list.children]) item.replaceWith(this.drawCard(item.card));
  }

  drawBar() {
    const count = this.count ? this.count.text : "–";
    if (!this.selecting) {
      mainButton.hide();
      this.bar.replaceChildren(
        el("span", { id: "list-count", class: "grow" }, `${count} clients`),
        el("button", { id: "select-toggle", class: "plain", onclick: () => this.setSelecting(true) }, "Select"));
      return;
    }
    const chosen = this.all ? count : String(this.picked.size);
    this.bar.replaceChildren(
      el("span", { id: "chosen", class: "grow" }, `${chosen} chosen`),
      el("button", { id: "select-all", class: "plain", disabled: !this.count,
        onclick: () => { haptic.selection(); this.all = true; this.picked.clear(); this.redrawCards(); this.drawBar(); },
      }, `All ${count} matching`),
      el("button", { id: "select-none", class: "plain",
        onclick: () => { this.all = false; this.picked.clear(); this.redrawCards(); this.drawBar(); } }, "None"),
      el("button", { id: "select-done", class: "plain", onclick: () => this.setSelecting(false) }, "Done"));
    if (this.all || this.picked.size) mainButton.show(`Actions on ${chosen}`, () => this.openActions());
    else mainButton.hide();
  }

  setSelecting(on) {
    haptic.selection();
    this.selecting = on;
    this.all = false;
    this.picked.clear();
    this.redrawCards();
    this.drawBar();
  }

  tap(card, item) {
    haptic.selection();
    if (!this.selecting) { navigate("client", { id: card.id }); return; }
    if (this.all) { // leaving "all matching" for a hand-picked set: what is shown stays chosen
      this.all = false;
      for (const other of this.list.children) this.picked.add(other.card.id);
    }
    if (this.picked.has(card.id)) this.picked.delete(card.id); else this.picked.add(card.id);
    item.replaceWith(this.drawCard(card));
    this.drawBar();
  }

  selection() {
    return { filter: this.filter, tab: this.tab, all: this.all, ids: [...this.picked] };
  }

  // ---- completion ---------------------------------------------------------------------------
  async suggest() {
    const text = this.input.value;
    const cursor = this.input.selectionStart ?? text.length;
    let done;
    try {
      done = await api("GET", "/clients/complete", { text, cursor }, { quiet: true });
    } catch { return; }
    if (text !== this.input.value || !done.suggestions.length) { this.hideCompletions(); return; }
    this.completions.replaceChildren(...done.suggestions.map((s) => el("li", {
      class: "suggestion", role: "option", dataset: { text: s.text },
      onmousedown: (e) => e.preventDefault(), // keep the focus in the input
      onclick: () => this.choose(done, s),
    }, el("span", {}, s.label), el("span", { class: "muted hint" }, s.hint))));
    this.completions.hidden = false;
  }

  choose(done, suggestion) {
    haptic.selection();
    const text = this.input.value;
    const tail = suggestion.final ? " " : "";
    const after = text.slice(done.end).replace(/^\s+/, "");
    this.input.value = text.slice(0, done.start) + suggestion.text + tail + after;
    const caret = done.start + suggestion.text.length + tail.length;
    this.input.focus();
    this.input.setSelectionRange(caret, caret);
    this.hideCompletions();
    if (suggestion.final) this.applyFilter(); else this.suggest();
  }

  hideCompletions() { this.completions.hidden = true; }

  // ---- sheets: actions, argument, confirmation, progress, saved filters ---------------------
  openSheet(title, ...children) {
    this.sheet.replaceChildren(el("div", { class: "sheet-body" },
      el("div", { class: "sheet-head" }, el("strong", { class: "grow" }, title),
        el("button", { class: "plain", id: "sheet-close", onclick: () => this.closeSheet() }, "✕")),
      ...children));
    this.sheet.hidden = false;
  }

  closeSheet() { this.sheet.hidden = true; this.sheet.replaceChildren(); }

  async openActions() {
    if (!this.actions) this.actions = (await api("GET", "/clients/actions")).actions;
    const rows = this.actions.map((a) => el("div", {
      class: "row" + (a.destructive ? " destructive" : ""), role: "button", dataset: { action: a.name },
      onclick: () => this.pickAction(a),
    }, el("span", { class: "grow" }, a.name), el("span", { class: "muted hint" }, a.help)));
    if (can("export")) {
      for (const kind of ["csv", "xlsx"]) {
        rows.push(el("div", { class: "row", role: "button", dataset: { action: `export-${kind}` },
          onclick: () => this.exportAs(kind) },
        el("span", { class: "grow" }, `export ${kind}`), el("span", { class: "muted hint" }, "a file in your chat with the bot")));
      }
    }
    this.openSheet("What to do with the chosen clients?", el("div", { class: "section" }, ...rows));
  }

  pickAction(action) {
    haptic.selection();
    if (!action.argument) { this.plan(action.name, null); return; }
    const input = el("input", { id: "action-argument", placeholder: ARGUMENT_PROMPTS[action.argument] });
    const go = () => { if (input.value.trim()) this.plan(action.name, input.value.trim()); };
    input.addEventListener("keydown", (e) => { if (e.key === "Enter") go(); });
    this.openSheet(action.name, el("div", { class: "sheet-pad" }, input,
      el("button", { id: "action-next", onclick: go }, "Next")));
    input.focus();
  }

  async plan(action, argument) {
    const planned = await api("POST", "/clients/bulk/plan", { action, argument, selection: this.selection() });
    if (!planned.token) { this.closeSheet(); toast(planned.question); return; }
    const cancel = () => { api("POST", "/clients/bulk/cancel", { token: planned.token }, { quiet: true }); this.closeSheet(); };
    this.openSheet("Confirm", el("div", { class: "sheet-pad" },
      el("p", { id: "confirm-question" }, planned.question),
      el("div", { class: "buttons" },
        el("button", { id: "confirm-yes", class: planned.destructive ? "danger" : "",
          onclick: () => this.run(planned) }, "Confirm"),
        el("button", { id: "confirm-no", class: "secondary", onclick: cancel }, "Cancel"))));
    haptic.notify("warning");
  }

  async run(planned) {
    haptic.impact("medium");
    // One statement in the store: the bar shows that work is under way, then the outcome.
    this.openSheet("Working…", el("div", { class: "sheet-pad" },
      el("p", { id: "progress-text" }, `${planned.action} on ${planned.count.toLocaleString("en")} clients…`),
      el("div", { class: "progress" }, el("div", { class: "progress-bar" }))));
    try {
      const done = await api("POST", "/clients/bulk/confirm", { token: planned.token });
      haptic.notify("success");
      toast(done.message);
    } finally {
      this.closeSheet();
    }
    this.selecting = false;
    this.reload();
  }

  async exportAs(kind) {
    this.openSheet("Exporting…", el("div", { class: "sheet-pad" },
      el("div", { class: "progress" }, el("div", { class: "progress-bar" }))));
    try {
      const done = await api("POST", "/clients/export", { kind, selection: this.selection() });
      haptic.notify("success");
      toast(done.message);
    } finally {
      this.closeSheet();
    }
  }

  async openSaved() {
    haptic.selection();
    const { saved } = await api("GET", "/filters/saved");
    const rows = saved.map((s) => el("div", { class: "row", dataset: { saved: s.name } },
      el("div", { class: "grow", role: "button", onclick: () => this.applySaved(s) },
        el("div", {}, s.name), el("div", { class: "muted hint" }, s.text)),
      el("button", { class: "plain", "aria-label": `Delete ${s.name}`, onclick: () => this.deleteSaved(s) }, "🗑")));
    const name = el("input", { id: "saved-name", placeholder: "Name for the current filter" });
    this.openSheet("Saved filters",
      el("div", { class: "section", id: "saved-list" }, ...(rows.length ? rows : [el("p", { class: "muted sheet-pad" }, "None yet.")])),
      el("div", { class: "sheet-pad" }, name, el("button", { id: "saved-save", disabled: !this.filter,
        onclick: () => this.saveFilter(name.value) }, "Save the current filter")));
  }

  applySaved(saved) {
    haptic.selection();
    this.closeSheet();
    this.input.value = saved.text;
    this.applyFilter();
  }

  async saveFilter(name) {
    const answer = await api("POST", "/filters/saved", { name, text: this.filter });
    haptic.notify("success");
    toast(answer.replaced ? `Replaced ${name}.` : `Saved ${name}.`);
    this.closeSheet();
  }

  async deleteSaved(saved) {
    await api("DELETE", `/filters/saved/${encodeURIComponent(saved.name)}`);
    haptic.impact("light");
    this.openSaved();
  }
}

registerScreen("clients", {
  title: "Clients",
  menu: "Clients",
  start: 10,
  render(root, params) { return new ClientList(root, params).start(); },
});

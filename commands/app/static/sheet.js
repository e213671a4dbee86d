/**
 * Bottom sheets for the client card and broadcast screens: a confirmation (Telegram's own popup
 * inside Telegram, a sheet of ours in a plain browser) and a picker list. Not a screen: imported
 * by screens/client.js, screens/dialog.js and screens/broadcast.js.
 */
import { el, haptic } from "./app.js";

// The styles of these screens, once, next to app.css (same versioned folder).
if (!document.getElementById("dialog-css")) {
  document.head.append(el("link", { id: "dialog-css", rel: "stylesheet",
    href: new URL("./dialog.css", import.meta.url).href }));
}

const tg = window.Telegram && window.Telegram.WebApp;
const inTelegram = Boolean(tg && tg.platform && tg.platform !== "unknown");

/** A sheet over the screen with `children`; returns {node, close}. Tapping outside closes it. */
export function openSheet(title, ...children) {
  const panel = el("div", { class: "sheet-panel", role: "dialog", "aria-label": title },
    el("div", { class: "sheet-title" }, title), ...children);
  const veil = el("div", { class: "sheet" }, panel);
  const close = () => veil.remove();
  veil.addEventListener("click", (event) => { if (event.target === veil) close(); });
  document.body.append(veil);
  return { node: panel, close };
}

/** Ask before something irreversible; resolves true for `ok`. */
export function confirmSheet(text, ok = "OK", { destructive = true } = {}) {
  haptic.notify("warning");
  if (inTelegram && tg.isVersionAtLeast && tg.isVersionAtLeast("6.2")) {
    return new Promise((resolve) => tg.showConfirm(text, (yes) => resolve(Boolean(yes))));
  }
  return new Promise((resolve) => {
    let sheet = null;
    const answer = (yes) => () => { haptic.selection(); sheet.close(); resolve(yes); };
    sheet = openSheet("Please confirm",
      el("p", { class: "sheet-text" }, text),
      el("div", { class: "sheet-buttons" },
        el("button", { class: "plain", id: "confirm-no", onclick: answer(false) }, "Cancel"),
        el("button", { class: destructive ? "confirm-danger" : "", id: "confirm-yes", onclick: answer(true) },
          ok)));
  });
}

// The home screen: who is signed in, their unread count and the other screens' menu entries.
import { el, haptic, navigate, registerScreen, registeredScreens, state } from "../app.js";

registerScreen("home", {
  title: "Switchboard",
  start: 0,
  render(root) {
    const me = state.me;
    root.append(
      el("section", { class: "section", id: "me" },
        el("h2", {}, "Signed in"),
        el("div", { class: "row" },
          el("div", { class: "grow" }, el("strong", { id: "me-name" }, me.name), " · ", me.role),
          el("span", { class: "muted", id: "me-unread" }, `${me.unread} unread`))),
    );
    const entries = registeredScreens().filter((screen) => screen.menu);
    if (entries.length) {
      root.append(el("section", { class: "section", id: "menu" },
        ...entries.map((screen) => el("div", {
          class: "row", role: "button", tabindex: "0",
          onclick: () => { haptic.selection(); navigate(screen.name); },
        }, el("span", { class: "grow" }, screen.menu), "›"))));
    }
  },
});

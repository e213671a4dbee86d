/**
 * Broadcast and resend-failed (F4): the "broadcast" screen shows the plan (recipients, skipped,
 * per bot, time) before anything is sent and the MainButton confirms it; the "job" screen shows
 * a job's live progress with Cancel (asked first); "jobs" lists the latest jobs.
 * Other screens open a broadcast to their filter with navigate("broadcast", {filter}).
 */
import { api, can, el, haptic, mainButton, navigate, registerScreen, replace, toast } from "../app.js";
import { confirmSheet } from "../sheet.js";

const PROGRESS_MS = 2000;
const MAX_PAUSE_MS = 15000;

function planView(plan) {
  return el("section", { class: "section", id: "plan" },
    el("h2", {}, "Plan"),
    el("pre", { class: "plan-text pad" }, plan.text),
    el("div", { class: "row" },
      el("span", { class: "grow" }, "Recipients"), el("strong", { id: "plan-recipients" },
        String(plan.recipients))),
    el("div", { class: "row" },
      el("span", { class: "grow" }, "Skipped (blocked, unsubscribed)"),
      el("span", {}, String(plan.blocked + plan.unsubscribed))),
    el("div", { class: "row" }, el("span", { class: "grow" }, "Time to finish"),
      el("span", {}, plan.eta)));
}

registerScreen("broadcast", {
  start: -1, // never the first screen by itself: opened from others or by a link
  title: "Broadcast",
  menu: "📣 Broadcast or resend failed",
  render(root, params) {
    if (!can("broadcast")) {
      root.append(el("p", { class: "muted pad", id: "refused" },
        "Broadcasts need the 'broadcast' permission; an admin can grant it."));
      return undefined;
    }
    let mode = params.mode === "resend" ? "resend" : "broadcast";
    const filter = el("input", { id: "broadcast-filter", value: params.filter || "tab:all",
      placeholder: "list:VIP label:hot" });
    const text = el("textarea", { id: "broadcast-text", rows: 4, maxlength: 4096,
      placeholder: "The message" });
    const args = el("input", { id: "resend-args", value: "",
      placeholder: "since:01.12.2026 channel:shop_tg interval:2" });
    const form = el("section", { class: "section pad", id: "broadcast-form" });
    const planBox = el("div", {});
    const tabs = el("div", { class: "chips pad", role: "tablist" });
    root.append(tabs, form, planBox);

    function reset() {
      planBox.replaceChildren();
      mainButton.show("Show the plan", showPlan);
    }
    function drawForm() {
      tabs.replaceChildren(...[["broadcast", "Broadcast"], ["resend", "Resend failed"]].map(
        ([name, label]) => el("button", { class: name === mode ? "chip active" : "chip",
          dataset: { mode: name }, onclick: () => { haptic.selection(); mode = name; drawForm(); } },
        label)));
      form.replaceChildren(...(mode === "broadcast"
        ? [el("label", { class: "muted small" }, "Clients (filter)"), filter,
          el("label", { class: "muted small" }, "Message"), text]
        : [el("p", { class: "muted small" }, "Resend the last bot message to every client whose "
          + "last message failed. Options: since:DATE, channel:BOT, interval:SECONDS, a filter."),
        args]));
      reset();
    }
    for (const input of [filter, text, args]) input.addEventListener("input", reset);

    async function showPlan() {
      const plan = mode === "broadcast"
        ? await api("POST", "/broadcast/plan", { filter: filter.value, text: text.value })
        : await api("POST", "/resend/plan", { args: args.value });
      haptic.impact();
      planBox.replaceChildren(planView(plan));
      if (!plan.token) {
        planBox.append(el("p", { class: "muted pad", id: "nothing" }, "Nothing to send."));
        mainButton.hide();
        return;
      }
      const verb = mode === "broadcast" ? "Send" : "Resend";
      mainButton.show(`${verb} to ${plan.recipients} clients`, async () => {
        const path = mode === "broadcast" ? "/broadcast/start" : "/resend/start";
        const started = await api("POST", path, { token: plan.token });
        haptic.notify("success");
        if (!started.job) { toast(started.notice); reset(); return; }
        replace("job", { id: started.job.id });
      });
    }
    drawForm();
    return () => mainButton.hide();
  },
});

function progressView(job) {
  return el("section", { class: "section", id: "job", dataset: { state: job.state } },
    el("div", { class: "row" }, el("strong", { class: "grow" }, `${job.name} #${job.id}`),
      el("span", { id: "job-state" }, job.state)),
    el("div", { class: "pad" },
      el("div", { class: "job-progress" }, el("div", { class: "job-bar", style: `width: ${job.percent}%` })),
      el("div", { class: "muted small", id: "job-ratio" }, `${job.ratio} done`)),
    ...[["Sent", job.sent], ["Failed", job.failed], ["Left", job.remaining],
      ["Skipped (blocked or unsubscribed)", job.skipped], ["Cancelled (not sent)", job.cancelled]]
      .map(([label, value]) => el("div", { class: "row" }, el("span", { class: "grow" }, label),
        el("span", { dataset: { figure: label.split(" ")[0].toLowerCase() } }, String(value)))),
    job.filter_text ? el("div", { class: "muted small pad" }, `filter: ${job.filter_text}`) : null);
}

registerScreen("job", {
  start: -1, // never the first screen by itself: opened from others or by a link
  title: (params) => `Job #${params.id}`,
  async render(root, params) {
    const box = el("div", {});
    const banner = el("div", { class: "banner", id: "reconnecting", hidden: true },
      "Reconnecting…");
    root.append(banner, box);
    let timer = null;
    let stopped = false;
    let pause = PROGRESS_MS;
    const draw = (job) => {
      box.replaceChildren(progressView(job));
      if (job.active) {
        mainButton.show("Cancel the job", async () => {
          const yes = await confirmSheet(`Cancel job #${job.id}? Messages not sent yet are `
            + "dropped; those being sent finish.", "Cancel the job");
          if (!yes) return;
          const answer = await api("POST", `/jobs/${job.id}/cancel`);
          toast(answer.notice);
          draw(answer.job);
        });
      } else {
        mainButton.hide();
        stopped = true;
      }
    };
    async function refresh() {
      if (stopped) return;
      try {
        const answer = await api("GET", `/jobs/${params.id}`, undefined, { quiet: true });
        banner.hidden = true;
        pause = PROGRESS_MS;
        draw(answer.job);
      } catch (err) {
        banner.hidden = false;
        pause = Math.min(pause * 2, MAX_PAUSE_MS);
      }
      if (!stopped) timer = setTimeout(refresh, pause);
    }
    const first = await api("GET", `/jobs/${params.id}`);
    draw(first.job);
    if (!stopped) timer = setTimeout(refresh, PROGRESS_MS);
    return () => { stopped = true; clearTimeout(timer); mainButton.hide(); };
  },
});

registerScreen("jobs", {
  start: -1, // never the first screen by itself: opened from others or by a link
  title: "Jobs",
  menu: "📊 Jobs",
  async render(root) {
    const { jobs } = await api("GET", "/jobs");
    if (!jobs.length) {
      root.append(el("p", { class: "muted pad" }, "No jobs yet."));
      return;
    }
    root.append(el("section", { class: "section", id: "jobs" }, ...jobs.map((job) => el("div", {
      class: "row", role: "button", tabindex: "0", dataset: { job: job.id },
      onclick: () => { haptic.selection(); navigate("job", { id: job.id }); },
    }, el("span", { class: "grow" }, `${job.name} #${job.id}`),
    el("span", { class: "muted" }, `${job.state} · ${job.ratio}`)))));
  },
});

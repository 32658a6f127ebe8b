/* SyncPlanet web page: sign-in, sites panel, file x site grid, file detail, publishing.
 *
 * Plain JavaScript, no build step, nothing fetched from elsewhere. The server renders the
 * page for the signed-in user: write controls exist in the HTML only for classes allowed to
 * use them (templates #tpl-file-actions, #tpl-priority, form #publish), so this script only
 * wires what it finds. The JWT lives in the HttpOnly cookie `token`, which the server sets
 * on sign-in (POST /web/signin) and clears on sign-out (POST /web/signout): this script never
 * sees it. The page's Content-Security-Policy allows no inline script or style, so every
 * behaviour is wired here with listeners and every look comes from style.css.
 */
"use strict";

(function () {
  const REFRESH_MS = 3000;
  const PAGE_SIZE = 50;
  const ICONS = { synced: "✓", outdated: "⚠", syncing: "⇅", error: "✕", missing: "", unwanted: "–" };
  const LABELS = {
    synced: "synced", outdated: "outdated", syncing: "syncing", error: "error",
    missing: "missing", unwanted: "not wanted",
  };
  const STATUS_TEXT = {
    ok: ["●", "reachable"], error: ["✕", "problem"], disabled: ["–", "disabled"],
    unknown: ["?", "not contacted yet"],
  };
  const $ = (id) => document.getElementById(id);

  /* ---- helpers --------------------------------------------------------------------- */

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "data") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat(Infinity)) {
      if (child !== null && child !== undefined) {
        node.append(child instanceof Node ? child : document.createTextNode(String(child)));
      }
    }
    return node;
  }

  async function api(method, url, body) {
    const options = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, options);
    } catch (err) {
      return { status: 0, ok: false, data: "the tracker does not answer (" + err.message + ")" };
    }
    const text = await response.text();
    let data = text;
    try { data = text ? JSON.parse(text) : null; } catch (_) { /* plain-text error body */ }
    if (response.status === 401 && document.body.dataset.page === "app") signOut();
    return { status: response.status, ok: response.ok, data };
  }

  function errorText(reply) {
    const data = reply.data;
    if (typeof data === "string" && data) return data;
    if (data && typeof data.detail === "string") return data.detail;
    if (data && data.detail) return JSON.stringify(data.detail);
    if (data && typeof data.error === "string") return data.error;
    return "request failed (HTTP " + reply.status + ")";
  }

  function pad(n) { return String(n).padStart(2, "0"); }

  function fmtTime(ms) {
    if (typeof ms !== "number") return "";
    const d = new Date(ms);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  // A timestamp (or a raw number) that never breaks across lines (class ts: nowrap).
  function stamp(text) { return el("span", { class: "ts", text }); }
  // A time for narrow columns: may wrap between the date and the time of day, never inside.
  function stampParts(ms) {
    const [day, clock] = fmtTime(ms).split(" ");
    return [stamp(day), " ", stamp(clock)];
  }

  function ago(ms) {
    if (typeof ms !== "number") return "never";
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.round(s / 60) + " min ago";
    if (s < 86400) return Math.round(s / 3600) + " h ago";
    return Math.round(s / 86400) + " d ago";
  }

  function fmtBytes(n) {
    if (typeof n !== "number") return "";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return (i ? n.toFixed(1) : String(n)) + " " + units[i];
  }

  function encodePath(id) { return id.split("/").map(encodeURIComponent).join("/"); }

  async function signOut() {
    try {
      await fetch("/web/signout", { method: "POST", credentials: "same-origin" });
    } finally {
      location.reload();
    }
  }

  /* ---- sign-in page ---------------------------------------------------------------- */

  function initSignin() {
    $("signin").addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = event.currentTarget;
      $("signin-error").textContent = "";
      const reply = await api("POST", "/web/signin", {
        username: form.username.value.trim(), password: form.password.value,
      });
      if (reply.ok) {
        location.reload(); // the server set the session cookie
      } else {
        $("signin-error").textContent =
          reply.status === 401 ? "Wrong user name or password." : errorText(reply);
        form.password.select();
      }
    });
  }

  /* ---- application page ------------------------------------------------------------ */

  const state = {
    me: "", q: "", sort: "time", errors: false, cursors: [null], page: 0, next: null, sites: [],
    detailId: null, signatures: {}, busy: false, gridSeq: 0,
  };

  function changed(key, value) {
    const sig = JSON.stringify(value);
    if (state.signatures[key] === sig) return false;
    state.signatures[key] = sig;
    return true;
  }

  /* sites panel */

  async function loadSites() {
    const reply = await api("GET", "/api/web/sites");
    $("sites-error").textContent = reply.ok ? "" : errorText(reply);
    if (!reply.ok || !changed("sites", reply.data)) return;
    const list = $("sites");
    list.replaceChildren();
    if (!reply.data.sites.length) {
      list.append(el("li", { text: "No hub or volume is configured yet (spctl apply -f manifests/)." }));
    }
    for (const site of reply.data.sites) list.append(siteCard(site));
    fillOrigins(reply.data.sites);
  }

  function siteCard(site) {
    const [icon, word] = STATUS_TEXT[site.status] || ["?", site.status];
    let statusWord = word;
    if (site.status === "error") {
      statusWord = site.reachable === false ? "unreachable" : (site.files.error ? "errors" : "last run failed");
    }
    const rows = [
      ["Backlog", site.backlogFiles + " files" + (site.backlogBytes ? " (" + fmtBytes(site.backlogBytes) + ")" : "")],
      ["Errors", String(site.files.error || 0)],
      ["Synced", String(site.files.synced || 0)],
    ];
    if (site.oldestPending) rows.push(["Oldest pending", ago(site.oldestPending)]);
    for (const phase of site.hub ? [] : ["scan", "emission", "reception"]) {
      const code = site.exit[phase];
      const when = site.last[phase];
      const text = phase === "scan" && !site.discovery && !when ? "off (discovery disabled)"
        : ago(when) + (code ? " (exit " + code + ")" : "");
      rows.push(["Last " + phase, text]);
    }
    const errors = ["scan", "emission", "reception"]
      .filter((p) => site.exit[p] && site.stderr[p])
      .map((p) => el("div", { class: "stderr", text: p + ": " + String(site.stderr[p]).slice(0, 300) }));
    return el("li", { class: "site site-" + site.status, data: { site: site.name, status: site.status } },
      el("h3", {},
        el("span", { text: site.name }),
        site.hub ? el("span", { class: "tag", text: "hub" }) : null,
        el("span", { class: "status status-" + site.status },
          el("span", { "aria-hidden": "true", text: icon + " " }), statusWord)),
      el("dl", {}, rows.map(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })])),
      site.activity ? el("div", { class: "sparks" }, el("p", { class: "spark-title", text: "Last hour" }),
        throughputChart(site.activity), backlogChart(site.activity)) : null,
      errors);
  }

  /* reconciler workers (GET /api/workers): who runs, since when, what it holds */

  async function loadWorkers() {
    const reply = await api("GET", "/api/workers");
    $("workers-error").textContent = reply.ok ? "" : errorText(reply);
    if (!reply.ok) return;
    const body = $("workers");
    body.replaceChildren();
    if (!reply.data.length) {
      body.append(el("tr", {}, el("td", { colspan: "6", text: "No reconciler worker is running (spctl reconcile, spctl run)." })));
    }
    for (const w of reply.data) {
      body.append(el("tr", { class: w.alive ? "worker" : "worker worker-silent", data: { worker: w.worker } },
        el("td", { text: w.host }),
        el("td", { text: String(w.pid) }),
        el("td", {}, stampParts(w.started)),
        el("td", { text: ago(w.heartbeat) + (w.alive ? "" : " (silent)") }),
        el("td", { text: w.jobs.length ? w.jobs.join(", ") : "none" }),
        el("td", { text: String(w.leases) })));
    }
  }

  /* the last hour of a site: small SVG charts drawn here (CSS gives their colours) */

  const SVG_NS = "http://www.w3.org/2000/svg";
  const CHART_W = 120;
  const CHART_H = 28;

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    for (const child of children) if (child) node.append(child);
    return node;
  }

  // A captioned chart: `label` and `summary` are shown, `spoken` is its accessible text.
  function chart(kind, label, summary, spoken, data, ...shapes) {
    const drawing = svg("svg", {
      class: "chart chart-" + kind, viewBox: "0 0 " + CHART_W + " " + CHART_H,
      preserveAspectRatio: "none", role: "img", "aria-label": label + ", last hour: " + spoken,
    }, svg("title", {}, document.createTextNode(label + ", last hour: " + spoken)),
    svg("line", { class: "axis", x1: 0, y1: CHART_H - 0.5, x2: CHART_W, y2: CHART_H - 0.5 }),
    ...shapes);
    Object.assign(drawing.dataset, data);
    return el("figure", { class: "spark" },
      el("figcaption", {}, el("span", { text: label }), el("span", { class: "spark-value", text: summary })),
      drawing);
  }

  function throughputChart(activity) {
    const bytes = activity.deliveredBytes;
    const files = activity.deliveredFiles;
    const step = CHART_W / bytes.length;
    const peak = Math.max(0, ...bytes);
    const bars = bytes.map((b, i) => {
      if (!b) return null;
      const h = Math.max(1.5, (CHART_H - 2) * b / peak);
      return svg("rect", { class: "bar", x: (i * step + 0.2).toFixed(2), y: (CHART_H - 1 - h).toFixed(2),
        width: (step - 0.4).toFixed(2), height: h.toFixed(2) },
        svg("title", {}, document.createTextNode(fmtTime(activity.start + i * activity.step).slice(11, 16)
          + ": " + files[i] + " files, " + fmtBytes(b))));
    });
    const total = bytes.reduce((a, b) => a + b, 0);
    const count = files.reduce((a, b) => a + b, 0);
    const rate = (n) => fmtBytes(Math.round(n / (activity.step / 1000))) + "/s";
    const summary = total ? fmtBytes(total) + ", peak " + rate(peak) : "nothing delivered";
    return chart("throughput", "Throughput", summary, total ? count + " files, " + summary : summary,
      { total: String(total), files: String(count) }, ...bars);
  }

  function backlogChart(activity) {
    const files = activity.backlogFiles;
    const step = CHART_W / files.length;
    const known = files.filter((n) => n !== null);
    const most = Math.max(0, ...known);
    const top = Math.max(1, most);
    const points = [];
    files.forEach((n, i) => {
      if (n === null) return;
      const y = (CHART_H - 1.5 - (CHART_H - 4) * n / top).toFixed(2);
      points.push((i * step).toFixed(2) + "," + y, ((i + 1) * step).toFixed(2) + "," + y);
    });
    const last = known.length ? known[known.length - 1] : 0;
    const summary = last + " files" + (most > last ? ", max " + most : "");
    const line = points.length ? svg("polyline", { points: points.join(" "), "vector-effect": "non-scaling-stroke" }) : null;
    return chart("backlog", "Backlog", summary, summary, { last: String(last), max: String(most) }, line);
  }

  function fillOrigins(sites) {
    const select = $("publish-origin");
    if (!select) return;
    const current = select.value;
    select.replaceChildren(...sites.filter((s) => !s.hub)
      .map((s) => el("option", { value: s.name, text: s.name })));
    if (current) select.value = current;
  }

  /* grid */

  function cellContent(site, cell) {
    const icon = ICONS[cell.state];
    let text = cell.state === "error" ? "exit " + cell.error : LABELS[cell.state];
    if (cell.state === "missing" || cell.state === "unwanted") text = "";
    const title = [site + ": " + LABELS[cell.state]];
    if (cell.origin) title.push("origin (authoritative copy)");
    if (cell.synced) title.push("delivered " + fmtTime(cell.synced));
    if (cell.syncing) title.push("transfer started " + fmtTime(cell.syncing));
    if (cell.state === "error") title.push("exit code " + cell.error + ", last attempt " + fmtTime(cell.lastAttempt));
    if (cell.state === "unwanted" && cell.held) title.push("a copy is still there");
    const span = el("span", { class: "cell st-" + cell.state },
      cell.origin ? el("span", { class: "icon", "aria-hidden": "true", text: "◆ " }) : null,
      icon ? el("span", { class: "icon", "aria-hidden": "true", text: icon + " " }) : null,
      text,
      el("span", { class: "sr", text: (text ? "" : LABELS[cell.state]) + (cell.origin ? " (origin)" : "") }));
    if (!icon && !cell.origin) span.append("\u00a0");
    return { span, title: title.join("\n") };
  }

  function renderHead(sites) {
    if (!changed("head", sites)) return;
    const head = $("grid-head");
    head.replaceChildren(el("th", { scope: "col", text: "File" }), el("th", { scope: "col", text: "Time" }),
      el("th", { scope: "col", text: "Priority" }), el("th", { scope: "col", text: "Origin" }),
      ...sites.map((s) => el("th", { scope: "col", class: "site-col", text: s.name + (s.hub ? " (hub)" : "") })));
  }

  function fileCells(file) {
    const tags = [];
    if (file.id.endsWith("/")) tags.push(el("span", { class: "tag", text: "package" }));
    if (file.deleted) tags.push(el("span", { class: "tag deleted", text: "deleted" }));
    if (file.lock) tags.push(el("span", { class: "tag icon-lock", text: "locked: " + file.lock }));
    const cells = [
      el("th", { scope: "row" },
        el("button", { type: "button", class: "path", data: { open: file.id }, text: file.id }), tags),
      el("td", { class: "meta", text: fmtTime(file.time) }),
      el("td", { class: "meta", text: String(file.priority) }),
      el("td", { class: "meta", text: file.origin || "" }),
    ];
    for (const site of state.sites) {
      const cell = file.cells[site.name];
      const { span, title } = cellContent(site.name, cell);
      cells.push(el("td", { class: "cell-td", title, data: { site: site.name, state: cell.state } }, span));
    }
    return cells;
  }

  function renderRows(files) {
    const body = $("grid-body");
    const focusedId = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.open : undefined;
    const existing = new Map([...body.querySelectorAll("tr[data-id]")].map((tr) => [tr.dataset.id, tr]));
    const rows = files.map((file) => {
      const sig = JSON.stringify([file, state.sites]);
      let tr = existing.get(file.id);
      if (!tr) tr = el("tr", { data: { id: file.id } });
      if (tr.dataset.sig !== sig) {
        const keep = tr.contains(document.activeElement);
        tr.replaceChildren(...fileCells(file));
        tr.dataset.sig = sig;
        if (keep) tr.querySelector("button.path").focus();
      }
      tr.classList.toggle("current", file.id === state.detailId);
      return tr;
    });
    const sameOrder = rows.length === body.children.length && rows.every((tr, i) => body.children[i] === tr);
    if (!sameOrder) {
      body.replaceChildren(...rows);
      if (!files.length) {
        body.append(el("tr", {}, el("td", { colspan: 4 + state.sites.length, text: "No files match." })));
      }
      const again = focusedId && body.querySelector('button.path[data-open="' + CSS.escape(focusedId) + '"]');
      if (again) again.focus();
    }
  }

  async function loadGrid() {
    const params = new URLSearchParams({ sort: state.sort, limit: String(PAGE_SIZE) });
    if (state.q) params.set("q", state.q);
    if (state.errors) params.set("errors", "true");
    const cursor = state.cursors[state.page];
    if (cursor) params.set("cursor", cursor);
    const seq = ++state.gridSeq;
    const reply = await api("GET", "/api/web/files?" + params.toString());
    if (seq !== state.gridSeq) return; // a newer request (paging, search) superseded this one
    if (!reply.ok) {
      $("files-error").textContent = errorText(reply);
      return;
    }
    $("files-error").textContent = reply.data.sort !== state.sort
      ? "Sorted by " + reply.data.sort + ": priorities need a hub." : "";
    state.sites = reply.data.sites;
    state.next = reply.data.next;
    renderHead(state.sites);
    renderRows(reply.data.files);
    const first = state.page * PAGE_SIZE + 1;
    const count = reply.data.files.length;
    const which = reply.data.errors ? " in error" : "";
    const status = count ? "Page " + (state.page + 1) + " · files" + which + " " + first + "–" + (first + count - 1)
      : "No files" + which;
    if ($("grid-status").textContent !== status) $("grid-status").textContent = status;
    $("page-prev").disabled = state.page === 0;
    $("page-next").disabled = !state.next;
    $("refreshed").textContent = "updated " + fmtTime(Date.now()).slice(11);
  }

  function restartPaging() {
    state.cursors = [null];
    state.page = 0;
    return loadGrid();
  }

  function initGrid() {
    $("search").addEventListener("submit", (event) => {
      event.preventDefault();
      state.q = $("search-q").value.trim();
      state.sort = $("search-sort").value;
      restartPaging();
    });
    $("search-errors").addEventListener("change", () => {
      state.q = $("search-q").value.trim();
      state.errors = $("search-errors").checked;
      restartPaging();
    });
    $("search-sort").addEventListener("change", () => {
      state.q = $("search-q").value.trim(); // the order applies to what the box says now
      state.sort = $("search-sort").value;
      restartPaging();
    });
    $("page-next").addEventListener("click", () => {
      if (!state.next) return;
      state.cursors[state.page + 1] = state.next;
      state.page += 1;
      loadGrid();
    });
    $("page-prev").addEventListener("click", () => {
      if (state.page === 0) return;
      state.page -= 1;
      loadGrid();
    });
    const body = $("grid-body");
    body.addEventListener("click", (event) => {
      const button = event.target.closest("button.path");
      if (button) openDetail(button.dataset.open);
    });
    body.addEventListener("keydown", (event) => {
      const button = event.target.closest("button.path");
      if (!button || !["ArrowDown", "ArrowUp", "Home", "End"].includes(event.key)) return;
      const all = [...body.querySelectorAll("button.path")];
      const i = all.indexOf(button);
      const j = { ArrowDown: i + 1, ArrowUp: i - 1, Home: 0, End: all.length - 1 }[event.key];
      if (all[j]) { all[j].focus(); event.preventDefault(); }
    });
  }

  /* file detail */

  function flash(text, isError) {
    const node = $("detail-message");
    node.textContent = text;
    node.className = isError ? "error" : "";
  }

  async function act(method, url, body, done) {
    const reply = await api(method, url, body);
    flash(reply.ok ? done : errorText(reply), !reply.ok);
    await Promise.all([refreshDetail(), loadGrid()]);
    return reply.ok;
  }

  function buildActions(id) {
    const box = $("detail-actions");
    box.replaceChildren();
    const actions = $("tpl-file-actions");
    if (actions) {
      box.append(actions.content.cloneNode(true));
      box.querySelector('[data-action="lock"]').addEventListener("click",
        () => act("PUT", "/api/lock/", id, "Locked."));
      box.querySelector('[data-action="unlock"]').addEventListener("click",
        () => act("PUT", "/api/unlock/", id, "Unlocked."));
      box.querySelector('[data-form="comment"]').addEventListener("submit", async (event) => {
        event.preventDefault();
        const input = event.currentTarget.comment;
        if (await act("POST", "/api/comment/", { "#parent": id, comment: input.value }, "Comment added.")) {
          input.value = "";
        }
      });
    }
    const priority = $("tpl-priority");
    if (priority) {
      box.append(priority.content.cloneNode(true));
      box.querySelector('[data-form="priority"]').addEventListener("submit", (event) => {
        event.preventDefault();
        const value = Number(event.currentTarget.priority.value);
        act("PUT", "/api/update/", { _id: id, sync_priority: value }, "Priority set to " + value + ".");
      });
    }
  }

  async function openDetail(id) {
    state.detailId = id;
    delete state.signatures.detail;
    $("detail").hidden = false;
    $("detail-title").textContent = id;
    $("detail-explain").hidden = true;
    flash("", false);
    buildActions(id);
    for (const tr of $("grid-body").querySelectorAll("tr[data-id]")) {
      tr.classList.toggle("current", tr.dataset.id === id);
    }
    await refreshDetail();
    $("detail").focus();
  }

  function closeDetail() {
    const id = state.detailId;
    state.detailId = null;
    $("detail").hidden = true;
    const back = id && $("grid-body").querySelector('button.path[data-open="' + CSS.escape(id) + '"]');
    if (back) back.focus();
  }

  async function explain(id, site) {
    const out = $("detail-explain");
    out.hidden = false;
    out.replaceChildren(el("p", { text: "Asking the tracker why…" }));
    const reply = await api("GET", "/api/explain/" + encodePath(id) + "?site=" + encodeURIComponent(site));
    if (!reply.ok) {
      out.replaceChildren(el("p", { class: "error", text: site + ": " + errorText(reply) }));
      return;
    }
    const items = Array.isArray(reply.data) ? reply.data : [reply.data];
    out.replaceChildren(
      ...items.map((item) => el("p", { class: "summary" },
        el("strong", { text: (item.site || site) + ": " }),
        item.summary || item.rule || "")),
      el("details", {}, el("summary", { text: "Details" }),
        el("pre", { text: JSON.stringify(reply.data, null, 2) })));
  }

  function renderDetail(detail) {
    const { doc, row, history } = detail;
    const lock = doc.lock;
    $("detail-lock").textContent = lock ? "Locked by " + lock : "Not locked";
    $("detail-lock").className = "lock " + (lock ? "icon-lock" : "icon-unlock");
    const lockButton = document.querySelector('#detail-actions [data-action="lock"]');
    const unlockButton = document.querySelector('#detail-actions [data-action="unlock"]');
    if (lockButton) lockButton.hidden = Boolean(lock);
    if (unlockButton) unlockButton.hidden = !lock;
    const input = $("priority-value");
    if (input && document.activeElement !== input && !input.dataset.touched) input.value = row.priority;
    if (changed("detail-sites", row.cells)) {
      $("detail-sites").replaceChildren(...state.sites.map((site) => {
        const cell = row.cells[site.name];
        const { span } = cellContent(site.name, cell);
        return el("tr", { data: { site: site.name, state: cell.state } },
          el("th", { scope: "row", text: site.name + (site.hub ? " (hub)" : "") }),
          el("td", {}, span),
          el("td", {}, cell.synced ? stampParts(cell.synced) : null),
          el("td", {}, cell.error !== null ? ["exit " + cell.error + " at ", stampParts(cell.lastAttempt)] : null),
          el("td", {}, el("button", {
            type: "button", class: "link", data: { explain: site.name },
            "aria-label": "Why is this file " + (cell.state === "synced" ? "" : "not ") + "on " + site.name + "?",
            text: "Why?", onclick: () => explain(doc._id, site.name),
          })));
      }));
    }
    if (changed("detail-history", history)) {
      $("detail-history").replaceChildren(...history.map((node) => el("li", {},
        el("strong", { text: node.origin !== undefined ? "publish" : "comment" }), " ",
        stamp(fmtTime(node.time)), " · ", node.author || "?", node.comment ? " — " + node.comment : "")));
      if (!history.length) $("detail-history").append(el("li", { text: "No history yet." }));
    }
    if (changed("detail-keys", doc)) {
      $("detail-keys").replaceChildren(...Object.keys(doc).sort().map((key) => {
        const value = doc[key];
        const shown = typeof value === "string" ? value : JSON.stringify(value);
        const isTime = typeof value === "number" && value > 1e12 && value < 1e14;
        const cell = isTime ? el("td", {}, stamp(shown), " ", stamp("(" + fmtTime(value) + ")"))
          : el("td", { text: shown });
        return el("tr", {}, el("th", { scope: "row", text: key }), cell);
      }));
    }
  }

  async function refreshDetail() {
    const id = state.detailId;
    if (!id) return;
    const reply = await api("GET", "/api/web/file?id=" + encodeURIComponent(id));
    if (id !== state.detailId) return;
    if (!reply.ok) {
      flash(reply.status === 404 ? "This file is not tracked (any more)." : errorText(reply), true);
      return;
    }
    if (!state.sites.length && reply.data.sites) state.sites = reply.data.sites;
    renderDetail(reply.data);
  }

  function initDetail() {
    $("detail-close").addEventListener("click", closeDetail);
    $("detail").addEventListener("keydown", (event) => {
      if (event.key === "Escape") closeDetail();
    });
    document.addEventListener("input", (event) => {
      if (event.target.id === "priority-value") event.target.dataset.touched = "1";
    });
  }

  /* publish */

  function initPublish() {
    const form = $("publish");
    if (!form) return;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { _id: form.path.value.trim(), origin: form.origin.value, comment: form.comment.value };
      if (form.priority.value !== "") body.sync_priority = Number(form.priority.value);
      const reply = await api("POST", "/api/publish/", body);
      const out = $("publish-message");
      out.className = reply.ok ? "" : "error";
      out.textContent = reply.ok ? "Published " + body._id + "."
        : reply.status === 409 ? body._id + " is already tracked." : errorText(reply);
      if (reply.ok) {
        form.path.value = "";
        form.comment.value = "";
        form.priority.value = "";
        await restartPaging();
      }
    });
  }

  /* live refresh: poll, never overlapping, paused while the tab is hidden */

  async function tick() {
    if (!document.hidden && !state.busy) {
      state.busy = true;
      try {
        await Promise.all([loadSites(), loadWorkers(), loadGrid(), refreshDetail()]);
      } finally {
        state.busy = false;
      }
    }
    setTimeout(tick, REFRESH_MS);
  }

  function initApp() {
    state.me = document.body.dataset.user;
    $("signout").addEventListener("click", signOut);
    initGrid();
    initDetail();
    initPublish();
    tick();
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (document.body.dataset.page === "signin") initSignin();
    else initApp();
  });
})();

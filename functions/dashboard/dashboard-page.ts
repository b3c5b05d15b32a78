/**
 * The deployments dashboard: one static page, no build step, served by the api function at `/`.
 * It reads the API it is served by (so the same credentials apply), polls every two seconds, and
 * builds its DOM with textContent only: deployment errors and notes are never parsed as HTML.
 * The page is kept as a string so the function's bundle carries it without a file loader.
 */

const style = `
:root { --bg:#f6f7f9; --card:#fff; --ink:#1d2330; --muted:#667085; --line:#e4e7ec; --ok:#12805c; --okbg:#e3f6ee;
  --bad:#c0362c; --badbg:#fde8e6; --warn:#b54708; --warnbg:#fef0c7; --run:#1f5fbf; --runbg:#e1ecfd; --idle:#667085; --idlebg:#eef0f3;
  --cache:#0e7490; --cachebg:#dff4f8; }
* { box-sizing:border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif; background:var(--bg); color:var(--ink); }
header { display:flex; align-items:center; gap:16px; padding:12px 24px; background:#1d2330; color:#fff; }
header h1 { font-size:18px; margin:0; letter-spacing:.5px; }
header h1 span { color:#f79009; }
header .live { margin-left:auto; font-size:12px; color:#c8ccd4; display:flex; align-items:center; gap:6px; }
header .dot { width:8px; height:8px; border-radius:50%; background:#32d583; box-shadow:0 0 0 3px rgba(50,213,131,.25); }
header .dot.stale { background:#f04438; box-shadow:0 0 0 3px rgba(240,68,56,.25); }
header select { font:inherit; padding:4px 8px; border-radius:6px; border:1px solid #475467; background:#344054; color:#fff; }
main { padding:20px 24px; display:grid; grid-template-columns:minmax(0,1.35fr) minmax(0,1fr); gap:20px; align-items:start; }
section.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:16px 18px; }
section.card h2 { font-size:15px; margin:0 0 12px; display:flex; align-items:center; gap:8px; }
section.card h2 small { color:var(--muted); font-weight:400; }
table { width:100%; border-collapse:collapse; }
th { text-align:left; font-weight:600; color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.4px; padding:6px 8px; border-bottom:1px solid var(--line); }
td { padding:7px 8px; border-bottom:1px solid var(--line); vertical-align:middle; }
tr.row { cursor:pointer; }
tr.row:hover td { background:#f9fafb; }
tr.row.selected td { background:#eef4ff; }
code, .mono { font-family:"DejaVu Sans Mono",ui-monospace,Menlo,monospace; font-size:12px; }
.muted { color:var(--muted); }
.badge { display:inline-block; padding:1px 8px; border-radius:999px; font-size:12px; font-weight:600; white-space:nowrap; }
.s-SUCCEEDED { color:var(--ok); background:var(--okbg); }
.s-FAILED, .s-REJECTED { color:var(--bad); background:var(--badbg); }
.s-ROLLED_BACK { color:var(--warn); background:var(--warnbg); }
.s-CANCELLED, .s-SUPERSEDED, .s-QUEUED { color:var(--idle); background:var(--idlebg); }
.s-PENDING, .s-BAKING, .s-CANARY, .s-ROLLING { color:var(--run); background:var(--runbg); }
.steps { display:flex; gap:3px; }
.seg { width:26px; height:10px; border-radius:3px; background:var(--idlebg); }
.seg.succeeded { background:var(--ok); }
.seg.cached { background:var(--cache); }
.seg.running { background:var(--run); animation:pulse 1.2s ease-in-out infinite; }
.seg.failed { background:var(--bad); }
.seg.cancelled { background:#98a2b3; }
.seg.not-run { background:repeating-linear-gradient(45deg,#eef0f3,#eef0f3 3px,#fff 3px,#fff 6px); border:1px solid var(--line); }
@keyframes pulse { 50% { opacity:.45; } }
.detail h3 { margin:0 0 4px; font-size:17px; }
.facts { display:grid; grid-template-columns:max-content 1fr; gap:4px 14px; margin:12px 0; font-size:13px; }
.facts dt { color:var(--muted); }
.facts dd { margin:0; overflow-wrap:anywhere; }
.gantt { margin:10px 0 4px; }
.gantt .line { display:grid; grid-template-columns:64px 1fr 70px; align-items:center; gap:10px; margin:5px 0; font-size:13px; }
.gantt .track { position:relative; height:14px; background:#f2f4f7; border-radius:4px; }
.gantt .bar { position:absolute; top:0; bottom:0; border-radius:4px; min-width:3px; }
.gantt .bar.succeeded { background:var(--ok); } .gantt .bar.cached { background:var(--cache); }
.gantt .bar.running { background:var(--run); animation:pulse 1.2s ease-in-out infinite; }
.gantt .bar.failed { background:var(--bad); } .gantt .bar.cancelled { background:#98a2b3; }
.gantt .right { text-align:right; color:var(--muted); font-variant-numeric:tabular-nums; }
.error { background:var(--badbg); color:var(--bad); border-radius:8px; padding:8px 12px; margin:10px 0; overflow-wrap:anywhere; }
.events { margin:8px 0 0; padding-left:18px; font-size:13px; }
.events li { margin:2px 0; }
.service { border-top:1px solid var(--line); padding-top:12px; margin-top:12px; }
.service:first-of-type { border-top:0; margin-top:0; padding-top:0; }
.service h3 { margin:0 0 6px; font-size:15px; display:flex; gap:8px; align-items:center; flex-wrap:wrap; }
.service table td { font-size:13px; }
.service td.mono { white-space:nowrap; }
.service td.image-id { max-width:170px; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
.service h4 { margin:12px 0 4px; font-size:12px; text-transform:uppercase; color:var(--muted); letter-spacing:.4px; }
.pin { display:inline-block; padding:0 6px; border-radius:4px; font-size:11px; font-weight:600; margin-right:4px; }
.pin.lkg { background:var(--okbg); color:var(--ok); } .pin.prev { background:var(--cachebg); color:var(--cache); }
.pin.rejected { background:var(--badbg); color:var(--bad); }
.health-Healthy { color:var(--ok); } .health-Unhealthy { color:var(--bad); }
.empty { color:var(--muted); padding:12px 0; }
#login { position:fixed; inset:0; background:rgba(16,24,40,.55); display:none; align-items:center; justify-content:center; }
#login form { background:#fff; padding:22px; border-radius:12px; width:min(460px,92vw); }
#login input { width:100%; font:inherit; padding:8px; margin:10px 0; border:1px solid var(--line); border-radius:6px; }
#login button { font:inherit; padding:7px 14px; border-radius:6px; border:0; background:#1d2330; color:#fff; }
#problem { display:none; margin:12px 24px 0; }
@media (max-width:1000px) { main { grid-template-columns:1fr; } }
`;

const markup = `
<header>
  <h1>Kiln <span>&#9632;</span></h1>
  <label>service <select id="service-filter"><option value="">all services</option></select></label>
  <div class="live"><span class="dot" id="live-dot"></span><span id="live-text">connecting…</span></div>
</header>
<div id="problem" class="error"></div>
<main>
  <div>
    <section class="card">
      <h2>Deployments <small>newest first</small></h2>
      <table>
        <thead><tr><th>Status</th><th>Service</th><th>Version</th><th>Steps</th><th>Trigger</th><th>Requested</th><th>Took</th></tr></thead>
        <tbody id="deployments"></tbody>
      </table>
    </section>
    <section class="card detail" id="detail" data-testid="deployment-detail" style="margin-top:20px"></section>
  </div>
  <section class="card"><h2>Services <small>instances and images</small></h2><div id="services"></div></section>
</main>
<div id="login"><form id="login-form">
  <h2 style="margin:0">API token</h2>
  <p class="muted">The API wants a bearer token. The local cloud keeps it in <code>.kiln/local/api-token</code>;
  <code>npx kiln dashboard</code> prints a link that carries it.</p>
  <input id="token" type="password" autocomplete="off" placeholder="token" aria-label="API token">
  <button type="submit">Open the dashboard</button>
</form></div>
`;

// Plain ES5-style script: no template literals or `${`, which this TypeScript string would read.
const script = `
(function () {
  "use strict";
  var stepNames = ["prepare", "bake", "canary", "roll", "finish"];
  var terminal = { SUCCEEDED: 1, FAILED: 1, ROLLED_BACK: 1, CANCELLED: 1, REJECTED: 1, SUPERSEDED: 1 };
  var state = { token: null, service: "", selected: null, deployments: [], services: [], fleet: {}, images: {}, detail: null };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "onclick") node.addEventListener("click", attrs[key]);
      else if (attrs[key] !== undefined && attrs[key] !== null) node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function badge(status) { return el("span", { "class": "badge s-" + status, text: status.replace("_", " ") }); }
  function short(id) { return id ? id.slice(0, 12) : ""; }
  function duration(ms) {
    if (ms === undefined || ms === null) return "";
    var s = Math.round(ms / 1000);
    if (s < 60) return s + "s";
    return Math.floor(s / 60) + "m " + String(s % 60).padStart(2, "0") + "s";
  }
  function ago(iso) {
    if (!iso) return "";
    var s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 60) return s + "s ago";
    if (s < 3600) return Math.floor(s / 60) + "m ago";
    if (s < 86400) return Math.floor(s / 3600) + "h ago";
    return new Date(iso).toLocaleDateString();
  }
  function took(d) {
    if (d.durationMs !== undefined) return duration(d.durationMs);
    return terminal[d.status] ? "" : duration(Date.now() - Date.parse(d.requestedAt));
  }

  function readToken() {
    var match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (match) {
      localStorage.setItem("kiln-token", decodeURIComponent(match[1]));
      var rest = location.hash.replace(/(^#|&)token=[^&]+/, "").replace(/^#?&/, "#");
      history.replaceState(null, "", location.pathname + location.search + (rest === "#" ? "" : rest));
    }
    state.token = localStorage.getItem("kiln-token");
  }
  function selectedFromHash() {
    var match = /^#\\/deployments\\/([\\w-]+)/.exec(location.hash);
    if (match) state.selected = match[1];
  }

  function api(path) {
    var headers = state.token ? { authorization: "Bearer " + state.token } : {};
    return fetch(path, { headers: headers, cache: "no-store" }).then(function (response) {
      if (response.status === 401) { showLogin(); throw new Error("the API wants a token"); }
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body.message || ("HTTP " + response.status));
        return body;
      });
    });
  }
  function showLogin() { document.getElementById("login").style.display = "flex"; }

  function stepSegments(d) {
    return el("div", { "class": "steps" }, d.stepTimeline.map(function (step) {
      var title = step.step + ": " + step.state + (step.durationMs !== undefined ? " (" + duration(step.durationMs) + ")" : "");
      return el("span", { "class": "seg " + step.state, title: title, "data-step": step.step, "data-state": step.state });
    }));
  }

  function renderDeployments() {
    var body = clear(document.getElementById("deployments"));
    if (state.deployments.length === 0) {
      body.appendChild(el("tr", {}, [el("td", { colspan: "7", "class": "empty", text: "No deployments yet: upload an artifact or run kiln deploy." })]));
      return;
    }
    state.deployments.forEach(function (d) {
      var row = el("tr", {
        "class": "row" + (d.id === state.selected ? " selected" : ""),
        "data-testid": "deployment-row", "data-id": d.id, "data-status": d.status,
        onclick: function () { state.selected = d.id; history.replaceState(null, "", "#/deployments/" + d.id); refreshDetail(); renderDeployments(); }
      }, [
        el("td", {}, [badge(d.status)]),
        el("td", { text: d.service }),
        el("td", { "class": "mono", text: d.version || "" }),
        el("td", {}, [stepSegments(d)]),
        el("td", { "class": "muted", text: d.trigger.kind + (d.trigger.kind === "rollback" ? " \\u21ba" : "") }),
        el("td", { "class": "muted", title: d.requestedAt, text: ago(d.requestedAt) }),
        el("td", { "class": "muted", text: took(d) })
      ]);
      body.appendChild(row);
    });
  }

  function fact(list, label, value, mono) {
    if (value === undefined || value === null || value === "") return;
    list.appendChild(el("dt", { text: label }));
    list.appendChild(el("dd", { "class": mono ? "mono" : "", text: value }));
  }

  function renderDetail() {
    var box = clear(document.getElementById("detail"));
    var d = state.detail;
    if (!d) {
      box.appendChild(el("p", { "class": "empty", text: "Pick a deployment to see its step timeline." }));
      return;
    }
    box.appendChild(el("h3", {}, [d.service + " " + (d.version || "") + " ", badge(d.status)]));
    box.appendChild(el("div", { "class": "muted mono", text: d.id }));
    var facts = el("dl", { "class": "facts" });
    fact(facts, "Trigger", d.trigger.kind + (d.trigger.by ? " by " + d.trigger.by : ""));
    if (d.rollbackTo) fact(facts, "Rolls back to", d.rollbackTo.imageId + " (baked by " + d.rollbackTo.deploymentId + ")", true);
    fact(facts, "Image", d.imageId, true);
    fact(facts, "Template version", d.launchTemplateVersion ? d.launchTemplateVersion + (d.previousLaunchTemplateVersion ? " (was " + d.previousLaunchTemplateVersion + ")" : "") : "");
    fact(facts, "Previous image", d.previousImageId, true);
    fact(facts, "Artifact", d.artifact ? d.artifact.key + (d.artifact.sha256 ? "  sha256 " + d.artifact.sha256.slice(0, 16) + "…" : "") : "", true);
    fact(facts, "Requested", new Date(d.requestedAt).toLocaleString());
    fact(facts, "Took", took(d));
    box.appendChild(facts);
    if (d.error) box.appendChild(el("div", { "class": "error", "data-testid": "deployment-error" }, [
      el("strong", { text: (d.error.step ? "Failed at " + d.error.step : d.error.name) + ": " }), d.error.message
    ]));

    var start = Date.parse(d.requestedAt);
    var end = d.endedAt ? Date.parse(d.endedAt) : Date.now();
    var span = Math.max(1, end - start);
    var gantt = el("div", { "class": "gantt", "data-testid": "step-timeline" });
    d.stepTimeline.forEach(function (step) {
      var track = el("div", { "class": "track" });
      if (step.startedAt) {
        var from = Date.parse(step.startedAt) - start;
        var to = (step.endedAt ? Date.parse(step.endedAt) : end) - start;
        track.appendChild(el("div", { "class": "bar " + step.state, style: "left:" + (100 * from / span).toFixed(2) + "%;width:" + Math.max(0.6, 100 * (to - from) / span).toFixed(2) + "%" }));
      }
      var right = step.durationMs !== undefined ? duration(step.durationMs) : step.state;
      if (step.state === "cached") right = "cached";
      gantt.appendChild(el("div", { "class": "line", "data-step": step.step, "data-state": step.state, title: step.note || "" }, [
        el("span", { text: step.step }), track, el("span", { "class": "right", text: right })
      ]));
    });
    box.appendChild(gantt);
    box.appendChild(el("ul", { "class": "events" }, d.timeline.map(function (event) {
      return el("li", {}, [el("span", { "class": "muted", text: new Date(event.at).toLocaleTimeString() + "  " }), event.status.toLowerCase(), event.note ? el("span", { "class": "muted", text: "  " + event.note }) : null]);
    })));
  }

  function renderServices() {
    var box = clear(document.getElementById("services"));
    var shown = state.services.filter(function (s) { return !state.service || s.name === state.service; });
    if (shown.length === 0) { box.appendChild(el("p", { "class": "empty", text: "No services registered." })); return; }
    shown.forEach(function (service) {
      var card = el("div", { "class": "service", "data-testid": "service", "data-service": service.name });
      var head = [service.name, el("span", { "class": "muted", text: "group " + service.config.group.name })];
      if (service.lock.activeDeploymentId) head.push(el("span", { "class": "badge s-ROLLING", text: "deploying " + short(service.lock.activeDeploymentId) }));
      if (service.lock.queuedDeploymentId) head.push(el("span", { "class": "badge s-QUEUED", text: "queued " + short(service.lock.queuedDeploymentId) }));
      card.appendChild(el("h3", {}, head));

      var fleet = state.fleet[service.name];
      card.appendChild(el("h4", { text: "Instances" + (fleet ? " (" + fleet.instances.length + " of desired " + fleet.group.desiredCapacity + ", template version " + (fleet.group.launchTemplateVersion || "?") + ")" : "") }));
      if (fleet && fleet.instances.length > 0) {
        card.appendChild(el("table", { "data-testid": "instances" }, [
          el("thead", {}, [el("tr", {}, ["Instance", "State", "Health", "Version", "Image"].map(function (h) { return el("th", { text: h }); }))]),
          el("tbody", {}, fleet.instances.map(function (i) {
            return el("tr", { "data-testid": "instance", "data-version": i.version || "" }, [
              el("td", { "class": "mono", text: i.instanceId }),
              el("td", { text: i.lifecycleState }),
              el("td", { "class": "health-" + i.healthStatus, text: i.healthStatus }),
              el("td", { "class": "mono", text: i.version || "?" }),
              el("td", { "class": "mono muted image-id", title: i.imageId || "", text: i.imageId || "" })
            ]);
          }))
        ]));
      } else card.appendChild(el("p", { "class": "empty", text: fleet ? "The group runs no instances." : "…" }));

      var images = state.images[service.name];
      card.appendChild(el("h4", { text: "Images" }));
      if (images && images.images.length > 0) {
        card.appendChild(el("table", { "data-testid": "images" }, [
          el("thead", {}, [el("tr", {}, ["Image", "Version", "Baked", "Pins"].map(function (h) { return el("th", { text: h }); }))]),
          el("tbody", {}, images.images.slice(0, 8).map(function (image) {
            var pins = image.pins.map(function (pin) {
              return el("span", { "class": "pin " + (pin === "last-known-good" ? "lkg" : "prev"), "data-pin": pin, text: pin === "last-known-good" ? "last-known-good" : "previous" });
            });
            if (image.status === "rejected") pins.push(el("span", { "class": "pin rejected", text: "rejected" }));
            return el("tr", { "data-testid": "image", "data-image": image.imageId }, [
              el("td", { "class": "mono", text: image.imageId }),
              el("td", { "class": "mono", text: image.version || "" }),
              el("td", { "class": "muted", title: image.createdAt || "", text: ago(image.createdAt) }),
              el("td", {}, pins)
            ]);
          }))
        ]));
      } else card.appendChild(el("p", { "class": "empty", text: images ? "No images yet." : "…" }));
      box.appendChild(card);
    });
  }

  function renderFilter() {
    var select = document.getElementById("service-filter");
    var names = state.services.map(function (s) { return s.name; });
    var current = Array.prototype.slice.call(select.options, 1).map(function (o) { return o.value; });
    if (names.join() === current.join()) return;
    while (select.options.length > 1) select.remove(1);
    names.forEach(function (name) { select.appendChild(el("option", { value: name, text: name })); });
    select.value = state.service;
  }

  function refreshDetail() {
    if (!state.selected) { state.detail = null; renderDetail(); return Promise.resolve(); }
    return api("/deployments/" + encodeURIComponent(state.selected)).then(function (d) { state.detail = d; renderDetail(); });
  }

  function live(ok, text) {
    document.getElementById("live-dot").className = ok ? "dot" : "dot stale";
    document.getElementById("live-text").textContent = text;
    var problem = document.getElementById("problem");
    problem.style.display = ok ? "none" : "block";
    if (!ok) problem.textContent = text;
  }

  function refresh() {
    var query = "/deployments?limit=20" + (state.service ? "&service=" + encodeURIComponent(state.service) : "");
    return Promise.all([api(query), api("/services")]).then(function (results) {
      state.deployments = results[0].items;
      state.services = results[1].items;
      if (!state.selected && state.deployments.length > 0) state.selected = state.deployments[0].id;
      renderFilter();
      renderDeployments();
      var shown = state.services.filter(function (s) { return !state.service || s.name === state.service; }).slice(0, 8);
      return Promise.all([refreshDetail()].concat(shown.map(function (service) {
        return Promise.all([
          api("/services/" + service.name + "/instances").then(function (v) { state.fleet[service.name] = v; }, function () {}),
          api("/services/" + service.name + "/images").then(function (v) { state.images[service.name] = v; }, function () {})
        ]);
      })));
    }).then(function () {
      renderServices();
      live(true, "live · updated " + new Date().toLocaleTimeString() + " · every 2 s");
    }).catch(function (error) {
      live(false, "not updating: " + error.message);
    });
  }

  function loop() { refresh().then(function () { setTimeout(loop, 2000); }); }

  document.getElementById("service-filter").addEventListener("change", function (event) {
    state.service = event.target.value;
    state.selected = null;
    refresh();
  });
  document.getElementById("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    localStorage.setItem("kiln-token", document.getElementById("token").value.trim());
    state.token = localStorage.getItem("kiln-token");
    document.getElementById("login").style.display = "none";
    refresh();
  });
  window.addEventListener("hashchange", function () { selectedFromHash(); refreshDetail(); renderDeployments(); });

  readToken();
  selectedFromHash();
  renderDetail();
  loop();
})();
`;

/** The dashboard page, whole. */
export const dashboardPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kiln · deployments</title>
<style>${style}</style>
</head>
<body>
${markup}
<script>${script}</script>
</body>
</html>
`;

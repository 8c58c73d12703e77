/// The live meter page: one small HTML page, served at `/` by the metrics endpoint, that draws every CPU's time split from `/metrics` once a second.

/// The page (HTML, CSS and script in one, no external assets: it works on a machine with no
/// other network than the guest's). The browser does the arithmetic: it fetches `/metrics`
/// every second and shows, per CPU, the share of the last second spent in the application
/// (ring 3), in network work in the kernel (symmetric mode), in other kernel work, and asleep
/// in `wait`; a dedicated network core is drawn as polling. Below, the network's rates. Rows
/// carry `data-cpu` and `data-app`, and the status line `data-updates`, for the page test.
enum MeterPage {
    static let html: StaticString = #"""
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Swiglet meter</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse}td,th{padding:3px 8px;text-align:right}th{border-bottom:1px solid #999}
.bar{display:flex;width:32em;height:1.2em;border:1px solid #777;background:#eee}
.bar div{height:100%}.app{background:#2e7d32}.net{background:#c62828}.ker{background:#ef6c00}.idle{background:#e0e0e0}
.poll{background:repeating-linear-gradient(45deg,#c62828 0 6px,#e57373 6px 12px)}
.key span{display:inline-block;width:1em;height:1em;margin:0 .3em 0 1em;vertical-align:middle}
#status{color:#666}
</style></head><body>
<h1>Swiglet intrusion meter</h1>
<p id="placement">waiting for /metrics</p>
<p class="key"><span class="app"></span>application<span class="net"></span>network work in the kernel<span class="ker"></span>other kernel<span class="idle"></span>idle (asleep in wait)<span class="poll"></span>network core (polls)</p>
<table><thead><tr><th>cpu</th><th>role</th><th>time in the last second</th><th>app %</th><th>net %</th><th>kernel %</th><th>idle %</th><th>irq/s</th><th>syscalls/s</th></tr></thead><tbody id="cpus"></tbody></table>
<h2>Network</h2>
<table><tbody id="net"></tbody></table>
<p id="status"></p>
<script>
"use strict";
// Every second: fetch /metrics (Prometheus text), take differences from the previous sample.
let previous = null, updates = 0;
function parse(text) {
  const samples = [];
  for (const line of text.split("\n")) {
    if (!line || line[0] === "#") continue;
    const space = line.lastIndexOf(" "), brace = line.indexOf("{");
    const name = brace < 0 ? line.slice(0, space) : line.slice(0, brace);
    const labels = {};
    if (brace >= 0) for (const m of line.slice(brace + 1, line.lastIndexOf("}")).matchAll(/(\w+)="([^"]*)"/g)) labels[m[1]] = m[2];
    let value = parseFloat(line.slice(space + 1));
    if (name.endsWith("_seconds_total")) value *= 1e9;   // one scale: nanoseconds
    samples.push({name: name.replace(/_(nano)?seconds_total$/, ""), labels, value});
  }
  return samples;
}
function pick(samples, name, match) {
  let total = 0, found = false;
  // Without a context in `match`, only the sums (series without a context label) count.
  for (const s of samples) if (s.name === name && (match.context !== undefined || s.labels.context === undefined)
      && Object.entries(match).every(([k, v]) => s.labels[k] === v)) { total += s.value; found = true; }
  return found ? total : null;
}
function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }
function render(now, samples) {
  const seconds = previous ? (now - previous.time) / 1000 : 0;
  const cpus = [...new Set(samples.filter(s => s.name === "swiglet_cpu_interrupts_total").map(s => s.labels.cpu))];
  const body = document.getElementById("cpus"); body.textContent = "";
  for (const cpu of cpus) {
    const role = samples.find(s => s.name === "swiglet_cpu_interrupts_total" && s.labels.cpu === cpu).labels.role;
    const get = (name, s) => (pick(s, name, {cpu}) || 0);
    const delta = name => previous ? get(name, samples) - get(name, previous.samples) : 0;
    const elapsed = seconds * 1e9;
    const share = value => elapsed > 0 ? Math.max(0, Math.min(100, 100 * value / elapsed)) : 0;
    const app = share(delta("swiglet_cpu_user")), net = share(delta("swiglet_cpu_network")), idle = share(delta("swiglet_cpu_idle"));
    const kernel = Math.max(0, share(delta("swiglet_cpu_kernel")) - net - idle);
    const row = document.createElement("tr");
    row.dataset.cpu = cpu; row.dataset.app = app.toFixed(1);
    row.append(cell("cpu" + cpu), cell(role));
    const bar = document.createElement("div"); bar.className = "bar";
    const parts = role === "network" ? [["poll", 100]] : [["app", app], ["net", net], ["ker", kernel], ["idle", idle]];
    for (const [kind, width] of parts) { const d = document.createElement("div"); d.className = kind; d.style.width = width.toFixed(1) + "%"; bar.append(d); }
    const barCell = document.createElement("td"); barCell.append(bar); row.append(barCell);
    for (const value of [app, net, kernel, idle]) row.append(cell(role === "network" ? "-" : value.toFixed(1)));
    row.append(cell(seconds ? (delta("swiglet_cpu_interrupts_total") / seconds).toFixed(0) : "-"));
    row.append(cell(seconds ? (delta("swiglet_cpu_system_calls_total") / seconds).toFixed(0) : "-"));
    body.append(row);
  }
  const contexts = samples.filter(s => s.name === "swiglet_network_context_info");
  if (contexts.length) document.getElementById("placement").textContent = "net-mode=" + contexts[0].labels.mode + ", " + contexts.length +
    " context(s) on cpu " + contexts.map(s => s.labels.cpu).join("+");
  const rate = (name, match) => { const now = pick(samples, name, match); const before = previous ? pick(previous.samples, name, match) : null;
    return now === null ? "-" : before === null || !seconds ? now.toFixed(0) + " total" : ((now - before) / seconds).toFixed(0) + "/s"; };
  const rows = [["frames in", rate("swiglet_frames_total", {layer: "ethernet", direction: "in"})],
    ["frames out", rate("swiglet_frames_total", {layer: "ethernet", direction: "out"})],
    ["TCP segments in", rate("swiglet_tcp_segments_total", {direction: "in"})],
    ["TCP connections established", String(pick(samples, "swiglet_tcp_connections", {state: "ESTABLISHED"}) ?? "-")],
    ["drops", rate("swiglet_drops_total", {})],
    ["frames handed between contexts", rate("swiglet_network_handoffs_total", {event: "out"})]];
  const net = document.getElementById("net"); net.textContent = "";
  for (const [name, value] of rows) { const tr = document.createElement("tr"); tr.append(cell(name), cell(value)); tr.firstChild.style.textAlign = "left"; net.append(tr); }
}
async function tick() {
  try {
    const response = await fetch("/metrics", {cache: "no-store"});
    const samples = parse(await response.text());
    const now = performance.now();
    render(now, samples);
    previous = {time: now, samples};
    updates += 1;
    const status = document.getElementById("status");
    status.textContent = "updated " + new Date().toLocaleTimeString() + " (" + updates + " samples)";
    status.dataset.updates = updates;
  } catch (error) {
    document.getElementById("status").textContent = "cannot read /metrics: " + error;
  }
}
tick(); setInterval(tick, 1000);
</script></body></html>
"""#

    /// The page's bytes.
    static var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: html.utf8Start, count: html.utf8CodeUnitCount)
    }
}

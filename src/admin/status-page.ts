/**
 * GET /status: one self-contained page (no CDN, works offline) that follows /status/events. Per
 * pool: the heap's order and the next backend, and its last picks explained; per backend its state,
 * weights, pending now and its peak (the last second's, and the last minute's), a chart of both over
 * the last minute, picks and requests per second by status class (from consecutive snapshots), p50
 * and p99 latency over the last ten seconds (from the histogram's buckets, interpolated as
 * Prometheus' histogram_quantile does), requests by status class so far, ejections and its last
 * health check. With worker processes the numbers are their sums (cluster/merge-status.ts), and a
 * table below gives each process.
 */
export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>chanlb status</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d232a; background: #f6f7f9; }
  h1 { font-size: 1.3rem; margin: 0 0 .25rem; }
  h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
  #meta { color: #5b6570; }
  .order { margin: .25rem 0 .75rem; }
  .order span { display: inline-block; padding: .1rem .5rem; margin-right: .35rem; border-radius: .3rem; background: #e3e7ec; }
  .order span.next { background: #1f7a4d; color: #fff; }
  ol.picks { margin: .25rem 0 .75rem; color: #3b444d; font-size: .9rem; }
  table { border-collapse: collapse; background: #fff; width: 100%; }
  th, td { text-align: right; padding: .35rem .6rem; border-bottom: 1px solid #e3e7ec; white-space: nowrap; }
  th:first-child, td:first-child, td.state { text-align: left; }
  .up { color: #1f7a4d; } .slow-start { color: #9a6b00; } .draining { color: #5b6570; } .ejected, .down { color: #b3261e; font-weight: 600; }
  svg { vertical-align: middle; }
  #conn.lost { color: #b3261e; }
</style>
</head>
<body>
<h1>chanlb</h1>
<div id="meta">connecting… <span id="conn"></span></div>
<div id="pools"></div>
<div id="workers"></div>
<script>
(() => {
  const HISTORY = 60;
  const WINDOW = 10;           // snapshots (seconds) the latency quantiles cover
  const history = new Map();   // pool/backend -> [pending, peak] samples, one per snapshot
  const latencies = new Map(); // pool/backend -> the last WINDOW + 1 histograms' counts
  let previous = null;         // the last snapshot, for rates
  const el = (tag, attrs = {}, text = '') => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== '') e.textContent = text;
    return e;
  };
  // Pending (blue) and its peak (orange) over the last minute, on one scale.
  const chart = (samples) => {
    const w = 120, h = 24, max = Math.max(1, ...samples.map((s) => s[1]));
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('width', w); svg.setAttribute('height', h); svg.setAttribute('class', 'chart');
    for (const [k, colour] of [[1, '#dd8a2e'], [0, '#2b6cb0']]) {
      const points = samples.map((s, i) => (i * w / (HISTORY - 1)).toFixed(1) + ',' + (h - s[k] * h / max).toFixed(1)).join(' ');
      const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
      line.setAttribute('points', points); line.setAttribute('fill', 'none'); line.setAttribute('stroke', colour);
      svg.appendChild(line);
    }
    return svg;
  };
  // The q-quantile of the requests in a histogram's bucket counts, in ms (null when there are none).
  const quantile = (q, bounds, counts) => {
    const total = counts.reduce((a, v) => a + v, 0);
    if (total === 0) return null;
    let seen = 0;
    for (let i = 0; i < counts.length; i++) {
      if (seen + counts[i] >= q * total) {
        if (i >= bounds.length) return bounds[bounds.length - 1] * 1000;
        const lower = i === 0 ? 0 : bounds[i - 1];
        return (lower + (bounds[i] - lower) * ((q * total - seen) / counts[i])) * 1000;
      }
      seen += counts[i];
    }
    return null;
  };
  const ms = (v) => v === null ? '-' : v < 10 ? v.toFixed(2) : v.toFixed(0);
  const rate = (now, before, seconds) => before === undefined || seconds <= 0 ? 0 : Math.max(0, (now - before) / seconds);
  const render = (s) => {
    document.getElementById('meta').firstChild.textContent = 'version ' + s.version + ' · up ' + Math.round(s.uptimeSeconds) + ' s · ';
    const seconds = previous === null ? 0 : s.uptimeSeconds - previous.uptimeSeconds;
    const root = document.getElementById('pools');
    root.replaceChildren();
    for (const pool of s.pools) {
      const before = previous?.pools.find((p) => p.name === pool.name);
      root.appendChild(el('h2', {}, 'pool ' + pool.name + ' (' + pool.policy + ')'));
      const order = el('div', { class: 'order', 'data-pool': pool.name });
      order.appendChild(el('strong', {}, pool.order.length === 0 ? 'no backend in rotation: requests get 503' : 'heap order: '));
      for (const name of pool.order) order.appendChild(el('span', { class: name === pool.next ? 'next' : '' }, name + (name === pool.next ? ' (next)' : '')));
      root.appendChild(order);
      if (pool.picks.length > 0) {
        const list = el('ol', { class: 'picks' });
        for (const pick of pool.picks) list.appendChild(el('li', {}, pick.text));
        root.appendChild(el('div', {}, 'last picks, newest first:'));
        root.appendChild(list);
      }
      const table = el('table', { 'data-pool': pool.name });
      const head = el('tr');
      for (const t of ['backend', 'state', 'weight', 'pending', 'peak 1 s / 1 min', 'last minute', 'picks/s', '2xx/s', '4xx/s', '5xx/s', 'p50 ms', 'p99 ms', '2xx', '4xx', '5xx', 'ejections', 'health check']) head.appendChild(el('th', {}, t));
      table.appendChild(head);
      for (const b of pool.backends) {
        const key = pool.name + '/' + b.name;
        const samples = (history.get(key) ?? []).concat([[b.pending, b.peakPending]]).slice(-HISTORY);
        history.set(key, samples);
        const old = before?.backends.find((x) => x.name === b.name);
        const row = el('tr', { class: 'backend', 'data-backend': b.name });
        row.appendChild(el('td', {}, b.name));
        row.appendChild(el('td', { class: 'state ' + b.state }, b.state));
        row.appendChild(el('td', {}, b.weight === b.configuredWeight ? String(b.weight) : b.weight.toFixed(2) + ' → ' + b.configuredWeight));
        row.appendChild(el('td', { class: 'pending' }, String(b.pending)));
        row.appendChild(el('td', { class: 'peak' }, b.peakPending + ' / ' + Math.max(...samples.map((s) => s[1]))));
        const cell = el('td'); cell.appendChild(chart(samples)); row.appendChild(cell);
        row.appendChild(el('td', { class: 'picks-rate' }, rate(b.picks, old?.picks, seconds).toFixed(1)));
        for (const c of ['2xx', '4xx', '5xx']) row.appendChild(el('td', { class: 'rate-' + c }, rate(b.requests[c] ?? 0, old?.requests[c], seconds).toFixed(1)));
        const kept = (latencies.get(key) ?? []).concat([b.latency.counts]).slice(-(WINDOW + 1));
        latencies.set(key, kept);
        const window = b.latency.counts.map((v, i) => kept.length > 1 ? v - kept[0][i] : v);
        row.appendChild(el('td', { class: 'p50' }, ms(quantile(0.5, b.latency.bounds, window))));
        row.appendChild(el('td', { class: 'p99' }, ms(quantile(0.99, b.latency.bounds, window))));
        for (const c of ['2xx', '4xx', '5xx']) row.appendChild(el('td', { class: 'count-' + c }, String(b.requests[c] ?? 0)));
        row.appendChild(el('td', {}, String(b.ejections)));
        row.appendChild(el('td', {}, b.check === null ? '-' : (b.check.ok ? 'passed' : 'failed: ' + b.check.why) + ', ' + b.check.ageSeconds.toFixed(1) + ' s ago'));
        table.appendChild(row);
      }
      root.appendChild(table);
    }
    renderWorkers(s.workers);
    previous = s;
  };
  // With worker processes (--workers N) the numbers above are their sums; this is each one.
  const renderWorkers = (workers) => {
    const root = document.getElementById('workers');
    root.replaceChildren();
    if (workers === undefined) return;
    root.appendChild(el('h2', {}, 'worker processes (the tables above sum them)'));
    const table = el('table', { class: 'workers' });
    const head = el('tr');
    for (const t of ['worker', 'pid', 'restarts', 'pending', 'requests']) head.appendChild(el('th', {}, t));
    table.appendChild(head);
    for (const w of workers) {
      const row = el('tr', { 'data-worker': String(w.id) });
      for (const v of [w.id, w.pid, w.restarts, w.pending, w.requests]) row.appendChild(el('td', {}, String(v)));
      table.appendChild(row);
    }
    root.appendChild(table);
  };
  const conn = document.getElementById('conn');
  const events = new EventSource('/status/events');
  events.onmessage = (e) => { conn.textContent = 'live'; conn.className = ''; render(JSON.parse(e.data)); };
  events.onerror = () => { conn.textContent = 'connection lost, reconnecting…'; conn.className = 'lost'; };
})();
</script>
</body>
</html>
`;

// The load generator of `make bench` (bench/run.py starts the server and seeds users and chats).
//
//   node bench/load.mjs <config.json>
//
// config: {url, pids, users: [{id, token, chatHeaderId}], group: {chatHeaderId, members} | null, out,
//          samplesOut, closedSockets, closedSeconds, openRates, openSeconds, fanoutSeconds, pageCalls}.
// Users come in pairs sharing a one-to-one chat: users[2k] and users[2k+1]; the group's members are the
// first `members` users. `pids`: the server's processes, whose RSS is summed. The same script drives our
// server and the bare relay (bench/relay.py), which has no history: `pageCalls: 0` skips that phase.
// Every phase is bounded in time; the results go to `out` as JSON, the raw latencies (for the plot) to
// `samplesOut`. Progress goes to stderr.
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';

import { io } from 'socket.io-client';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const ACK_TIMEOUT_MS = 10_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...args) => process.stderr.write(`[load] ${args.join(' ')}\n`);

function rssKb(pids) {
  let total = 0;
  for (const pid of pids) {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    total += Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]);
  }
  return total;
}

// CPU time, to say where a closed loop's cores went: the server's processes (utime + stime, in clock
// ticks of 10 ms), the whole machine's busy ticks (PostgreSQL and Redis included) and this process.
function cpuSnapshot(pids) {
  let server = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      server += Number(fields[11]) + Number(fields[12]);
    } catch { /* a process that ended */ }
  }
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  const idle = ticks[3] + ticks[4];
  const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
  return { at: performance.now(), server, busy: total - idle, total, self: process.cpuUsage() };
}

function cpuPercent(before, after, cores) {
  const wallMs = after.at - before.at;
  const self = process.cpuUsage(before.self);
  const pct = (v) => Math.round(v);
  return {
    server_percent: pct(((after.server - before.server) * 10 * 100) / wallMs),
    load_generator_percent: pct(((self.user + self.system) / 1000 / wallMs) * 100),
    machine_percent: pct(((after.busy - before.busy) / (after.total - before.total)) * cores * 100),
  };
}

function percentile(sorted, p) {
  if (!sorted.length) return null;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

function summary(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (v) => (v === null ? null : Math.round(v * 1000) / 1000);
  return {
    count: sorted.length,
    p50_ms: round(percentile(sorted, 50)),
    p90_ms: round(percentile(sorted, 90)),
    p99_ms: round(percentile(sorted, 99)),
    max_ms: round(sorted.at(-1) ?? null),
  };
}

function connect(user) {
  return new Promise((resolve, reject) => {
    const socket = io(config.url, {
      query: { userId: user.id },
      auth: { accessToken: user.token },
      transports: ['websocket'],
      forceNew: true, // one connection per user, as separate devices would
      reconnection: false,
    });
    const timer = setTimeout(() => reject(new Error(`connect timeout for ${user.id}`)), 20_000);
    socket.once('connect', () => { clearTimeout(timer); resolve(socket); });
    socket.once('connect_error', (error) => { clearTimeout(timer); reject(error); });
  });
}

async function inBatches(items, size, fn) {
  const results = [];
  for (let i = 0; i < items.length; i += size) {
    results.push(...(await Promise.all(items.slice(i, i + size).map((item, j) => fn(item, i + j)))));
  }
  return results;
}

const call = (socket, event, payload) => socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload);

// The set-up's calls (the joins, not the measured ones): a `server_error` answer ("try again", as the
// server answers an event past its deadline on a starved machine) is retried, as an app would, after
// 0.5, 1, 1.5, 2 s; each retry is counted and logged, so that a run that needed them says so.
let setupRetries = 0;
async function callRetrying(socket, event, payload, tries = 5) {
  for (let attempt = 1; ; attempt++) {
    const answer = await call(socket, event, payload);
    if (answer?.code !== 'server_error' || attempt === tries) return answer;
    setupRetries++;
    await sleep(500 * attempt);
  }
}

// What went wrong, by kind: the error answer's code, or `timeout` (no ack within ACK_TIMEOUT_MS).
const failure = (kinds, key) => { kinds[key] = (kinds[key] ?? 0) + 1; };

async function main() {
  const { users, pids } = config;
  const results = { sockets: users.length };
  const samples = { closed_ack_ms: [], open_ms: {} };

  // Warm-up: imports, caches and code paths that the first connections pay for once.
  const warm = await inBatches(users.slice(0, 20), 20, connect);
  await Promise.all(warm.map((s, i) => call(s, 'getMyChats', {}).catch(() => null).then(() => users[i])));
  for (const s of warm) s.disconnect();
  await sleep(1500);

  // (c) Memory per idle connected socket.
  const rssBefore = rssKb(pids);
  const started = performance.now();
  const sockets = await inBatches(users, 100, connect);
  const connectSeconds = (performance.now() - started) / 1000;
  await sleep(2000);
  const rssAfter = rssKb(pids);
  results.memory = {
    rss_before_kb: rssBefore,
    rss_after_kb: rssAfter,
    per_socket_kb: Math.round(((rssAfter - rssBefore) / users.length) * 10) / 10,
    connect_seconds: Math.round(connectSeconds * 100) / 100,
  };
  log(`connected ${sockets.length} sockets in ${connectSeconds.toFixed(2)} s; RSS ${rssBefore} -> ${rssAfter} kB`);

  const joins = await inBatches(users, 100, (u, i) => callRetrying(sockets[i], 'joinRoom', { chatHeaderId: u.chatHeaderId }));
  const badJoin = joins.find((j) => !j?.joined);
  if (badJoin) throw new Error(`joinRoom failed: ${JSON.stringify(badJoin)}`);
  log(`every socket joined its chat${setupRetries ? ` (${setupRetries} joinRoom answer(s) server_error, retried)` : ''}`);

  // Receivers: the partner of the sender records when each open-loop message arrives.
  const sentAt = new Map();
  const openLatencies = [];
  users.forEach((user, i) => {
    sockets[i].on('message', (data) => {
      const m = data?.chatMessage;
      if (!m || m.userId === user.id || typeof m.message !== 'string' || !m.message.startsWith('open:')) return;
      const t0 = sentAt.get(m.message);
      if (t0 !== undefined) {
        openLatencies.push(performance.now() - t0);
        sentAt.delete(m.message);
      }
    });
  });

  // (a) Closed loop: each of `closedSockets` sockets sends, awaits its ack, sends again.
  const closedCount = Math.min(config.closedSockets, users.length);
  const closed = async (seconds, record) => {
    const until = performance.now() + seconds * 1000;
    let acks = 0;
    let errors = 0;
    const kinds = {};
    const ackLatencies = [];
    await Promise.all(Array.from({ length: closedCount }, async (_, i) => {
      let n = 0;
      while (performance.now() < until) {
        const t0 = performance.now();
        try {
          const answer = await call(sockets[i], 'createMessage', {
            chatHeaderId: users[i].chatHeaderId, message: `closed ${i} ${n++}`, messageType: 0,
          });
          if (answer?.chatMessage) {
            acks++;
            if (record) ackLatencies.push(performance.now() - t0);
          } else {
            errors++;
            failure(kinds, answer?.code ?? 'no chatMessage');
          }
        } catch {
          errors++;
          failure(kinds, 'timeout');
        }
      }
    }));
    return { acks, errors, kinds, ackLatencies };
  };
  await closed(2, false);
  const closedStart = performance.now();
  const cpuBefore = cpuSnapshot(pids);
  const run = await closed(config.closedSeconds, true);
  const cpu = cpuPercent(cpuBefore, cpuSnapshot(pids), availableParallelism());
  const closedSeconds = (performance.now() - closedStart) / 1000;
  results.closed_loop = {
    sockets: closedCount,
    seconds: Math.round(closedSeconds * 100) / 100,
    acks: run.acks,
    errors: run.errors,
    errors_by_kind: run.kinds,
    messages_per_second: Math.round(run.acks / closedSeconds),
    ack_latency: summary(run.ackLatencies),
    cpu, // percent of one core; the machine's figure counts every process (PostgreSQL, Redis, others)
  };
  samples.closed_ack_ms = run.ackLatencies;
  log(`closed loop: ${results.closed_loop.messages_per_second} msg/s over ${closedCount} sockets`);
  await sleep(1000);

  // (b) Open loop: a fixed offered rate spread over every socket; latency from emit to the partner's
  // `message`. Once per rate in `openRates`, lowest first, so that one run shows latency below and near
  // the closed-loop ceiling.
  results.open_loop = [];
  let sequence = 0;
  for (const rate of config.openRates) {
    openLatencies.length = 0;
    sentAt.clear();
    const total = Math.round(rate * config.openSeconds);
    let openErrors = 0;
    const openKinds = {};
    const openStart = performance.now();
    for (let i = 0; i < total; i++) {
      const due = openStart + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      const k = sequence % users.length;
      const text = `open:${sequence++}`;
      sentAt.set(text, performance.now());
      sockets[k].timeout(ACK_TIMEOUT_MS).emit(
        'createMessage', { chatHeaderId: users[k].chatHeaderId, message: text, messageType: 0 },
        (err, answer) => {
          if (err || !answer?.chatMessage) {
            openErrors++;
            failure(openKinds, err ? 'timeout' : answer?.code ?? 'no chatMessage');
          }
        },
      );
    }
    const offeredSeconds = (performance.now() - openStart) / 1000;
    const drainUntil = performance.now() + 5000;
    while (sentAt.size && performance.now() < drainUntil) await sleep(50);
    const entry = {
      sockets: users.length,
      offered_per_second: rate,
      achieved_offer_per_second: Math.round(total / offeredSeconds),
      sent: total,
      delivered: openLatencies.length,
      lost: sentAt.size,
      errors: openErrors,
      errors_by_kind: openKinds,
      latency: summary(openLatencies),
    };
    results.open_loop.push(entry);
    samples.open_ms[rate] = [...openLatencies];
    log(`open loop at ${rate} msg/s: p50 ${entry.latency.p50_ms} ms, p99 ${entry.latency.p99_ms} ms`);
    await sleep(1000);
  }

  // (e) Fan-out: the group's members join its room; its first member sends, awaits the ack, sends again
  // (closed loop), and every member's socket (the sender's own included, as the room is) counts the
  // `message` events it gets. Deliveries per second run from the first send to the last delivery, so
  // that deliveries still queued when the sending stops count against the time they took.
  if (config.group) {
    const members = Math.min(config.group.members, users.length);
    // Ten at a time: each joinRoom of a 100-member group answers its 100 MemberDtos, and a burst of a
    // hundred of them queued on the ORM's thread past the server's event deadline on a busy machine.
    const retriesBefore = setupRetries;
    const groupJoins = await inBatches(sockets.slice(0, members), 10, (s) => callRetrying(s, 'joinRoom', {
      chatHeaderId: config.group.chatHeaderId,
    }));
    const badGroupJoin = groupJoins.find((j) => !j?.joined);
    if (badGroupJoin) throw new Error(`joinRoom of the group failed: ${JSON.stringify(badGroupJoin)}`);
    if (setupRetries > retriesBefore) log(`the group's joins: ${setupRetries - retriesBefore} server_error answer(s), retried`);
    let delivered = 0;
    let lastDelivery = 0;
    const count = (data) => {
      const text = data?.chatMessage?.message;
      if (typeof text === 'string' && text.startsWith('fan:m:')) {
        delivered++;
        lastDelivery = performance.now();
      }
    };
    for (const s of sockets.slice(0, members)) s.on('message', count);
    const fan = async (tag, seconds) => {
      const until = performance.now() + seconds * 1000;
      let acks = 0;
      let errors = 0;
      const kinds = {};
      for (let n = 0; performance.now() < until; n++) {
        try {
          const answer = await call(sockets[0], 'createMessage', {
            chatHeaderId: config.group.chatHeaderId, message: `fan:${tag}:${n}`, messageType: 0,
          });
          if (answer?.chatMessage) acks++;
          else { errors++; failure(kinds, answer?.code ?? 'no chatMessage'); }
        } catch {
          errors++;
          failure(kinds, 'timeout');
        }
      }
      return { acks, errors, kinds };
    };
    await fan('w', 1);
    await sleep(500);
    const fanStart = performance.now();
    const fanCpuBefore = cpuSnapshot(pids);
    const fanRun = await fan('m', config.fanoutSeconds);
    const fanCpu = cpuPercent(fanCpuBefore, cpuSnapshot(pids), availableParallelism());
    const drainUntil = performance.now() + 5000;
    while (delivered < fanRun.acks * members && performance.now() < drainUntil) await sleep(20);
    const fanSeconds = ((lastDelivery || performance.now()) - fanStart) / 1000;
    for (const s of sockets.slice(0, members)) s.off('message', count);
    results.fanout = {
      members,
      seconds: Math.round(fanSeconds * 100) / 100,
      messages: fanRun.acks,
      errors: fanRun.errors,
      errors_by_kind: fanRun.kinds,
      expected: fanRun.acks * members,
      delivered,
      messages_per_second: Math.round(fanRun.acks / fanSeconds),
      deliveries_per_second: Math.round(delivered / fanSeconds),
      cpu: fanCpu, // while the sender sends (the drain after it not counted)
    };
    log(`fan-out to ${members}: ${results.fanout.deliveries_per_second} deliveries/s`);
    await sleep(500);
  }

  // (d) findAllMessages pages on the closed-loop chats (hundreds of messages each): the newest page,
  // then a keyset page below it (LastMessageId), one call at a time. Not on the relay (no history).
  const pageLatencies = [];
  const cursorLatencies = [];
  let pageErrors = 0;
  for (let i = 0; i < config.pageCalls; i++) {
    const k = i % closedCount;
    const socket = sockets[k];
    let t0 = performance.now();
    const page = await call(socket, 'findAllMessages', { chatHeaderId: users[k].chatHeaderId, maxResultCount: 50 });
    pageLatencies.push(performance.now() - t0);
    if (!Array.isArray(page?.items)) { pageErrors++; continue; }
    if (page.items.length < 50) continue; // a short history has no older page
    t0 = performance.now();
    const older = await call(socket, 'findAllMessages', {
      chatHeaderId: users[k].chatHeaderId, maxResultCount: 50, lastMessageId: page.items.at(-1).id,
    });
    cursorLatencies.push(performance.now() - t0);
    if (!Array.isArray(older?.items)) pageErrors++;
  }
  if (config.pageCalls > 0) {
    results.history_pages = {
      page_size: 50,
      messages_per_chat: Math.round(run.acks / Math.ceil(closedCount / 2)),
      errors: pageErrors,
      newest_page: summary(pageLatencies),
      keyset_page: summary(cursorLatencies),
    };
    log(`findAllMessages: p50 ${results.history_pages.newest_page.p50_ms} ms`);
  }

  for (const s of sockets) s.disconnect();
  results.setup_retries = setupRetries; // joinRoom answers server_error, retried (callRetrying)
  writeFileSync(config.out, JSON.stringify(results, null, 2));
  const round = (list) => list.map((v) => Math.round(v * 1000) / 1000);
  samples.closed_ack_ms = round(samples.closed_ack_ms);
  for (const rate of Object.keys(samples.open_ms)) samples.open_ms[rate] = round(samples.open_ms[rate]);
  if (config.samplesOut) writeFileSync(config.samplesOut, JSON.stringify(samples));
}

main().then(
  () => process.exit(0),
  (error) => { log(`failed: ${error.stack || error}`); process.exit(1); },
);

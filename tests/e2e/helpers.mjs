// Test helpers: a ChatClient that records what it hears, promises for acks and events, a tiny PNG.
import { deflateSync } from 'node:zlib';

import { ChatClient } from './chat-client.mjs';

// The spec's ChatClient logs every event; keep test output readable unless asked (E2E_VERBOSE=1).
if (!process.env.E2E_VERBOSE) {
  console.log = () => {};
  console.error = () => {};
}

export const TIMEOUT_MS = 5000;
// An event name no server handler has: the server answers it with an `exception` emit (CONTRACT §4).
const BARRIER_EVENT = 'test:barrier';

/** Resolve with the value `start(callback)` hands its callback; reject after `ms`. */
export function ack(start, ms = TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no acknowledgement within ${ms} ms`)), ms);
    start((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

/** Records every server event a socket receives (all arguments) and lets a test wait for one. */
export class EventLog {
  constructor(socket) {
    this.socket = socket;
    this.entries = []; // {event, args, taken}
    this.waiters = [];
    this.barriers = 0;
    socket.onAny((event, ...args) => {
      const entry = { event, args, taken: false };
      this.entries.push(entry);
      for (const waiter of [...this.waiters]) {
        if (waiter.event === event && waiter.match(...args)) {
          entry.taken = true;
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          clearTimeout(waiter.timer);
          waiter.resolve(args);
          break;
        }
      }
    });
  }

  /** The arguments of the first not-yet-taken `event` for which `match(...args)` holds (already here or next). */
  next(event, match = () => true, ms = TIMEOUT_MS) {
    const found = this.entries.find((e) => !e.taken && e.event === event && match(...e.args));
    if (found) {
      found.taken = true;
      return Promise.resolve(found.args);
    }
    return new Promise((resolve, reject) => {
      const waiter = { event, match, resolve };
      waiter.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no '${event}' event within ${ms} ms; heard: ${JSON.stringify(this.entries.map((e) => e.event))}`));
      }, ms);
      this.waiters.push(waiter);
    });
  }

  /** Every `event` received so far for which `match(...args)` holds. */
  all(event, match = () => true) {
    return this.entries.filter((e) => e.event === event && match(...e.args)).map((e) => e.args);
  }

  /**
   * Resolve once every server event already on its way to this socket has arrived, as
   * tests/conftest.py's Client.barrier: an event no handler has is answered with an `exception` emit
   * to this socket, and one socket's packets arrive in the order the server sent them. Assert that
   * something did NOT arrive after this, never after a sleep. Its answer is not left in the log.
   */
  async barrier(ms = TIMEOUT_MS) {
    this.barriers += 1;
    const name = `${BARRIER_EVENT}:${this.barriers}`;
    this.socket.emit(name, {});
    await this.next('exception', (e) => e?.event === name, ms);
    this.entries = this.entries.filter((e) => !(e.event === 'exception' && e.args[0]?.event === name));
  }
}

/** The spec's ChatClient, plus a log of every event and of every call to its override hooks. */
export class RecordingChatClient extends ChatClient {
  constructor(serverUrl, userId, accessToken, options = {}) {
    super(serverUrl, userId, accessToken, { reconnection: false, ...options });
    this.log = new EventLog(this.socket);
    this.hooks = {
      onMessageReceived: [], onTyping: [], onUserStatusChanged: [], onMemberJoined: [],
      onMessageUpdated: [], onMessageDeleted: [], onMessagesRead: [],
    };
  }

  onMessageReceived(data) { this.hooks.onMessageReceived.push(data); }
  onTyping(data) { this.hooks.onTyping.push(data); }
  onUserStatusChanged(data) { this.hooks.onUserStatusChanged.push(data); }
  onMemberJoined(member) { this.hooks.onMemberJoined.push(member); }
  onMessageUpdated(message) { this.hooks.onMessageUpdated.push(message); }
  onMessageDeleted(messageId) { this.hooks.onMessageDeleted.push(messageId); }
  onMessagesRead(chatHeaderId) { this.hooks.onMessagesRead.push(chatHeaderId); }
}

/** Resolve once `socket` is connected; reject with the server's reason on `connect_error`. */
export function connected(socket, ms = TIMEOUT_MS) {
  if (socket.connected) return Promise.resolve(socket);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not connected within ${ms} ms`)), ms);
    socket.once('connect', () => { clearTimeout(timer); resolve(socket); });
    socket.once('connect_error', (error) => { clearTimeout(timer); reject(error); });
  });
}

/** A REST call with the spec's Bearer header: {status, body}. */
export async function rest(url, method, path, token, body) {
  const headers = { Authorization: `Bearer ${token}` };
  const init = { method, headers };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`${url}${path}`, init);
  const text = await response.text();
  let parsed = null;
  try { parsed = JSON.parse(text); } catch { parsed = text; }
  return { status: response.status, body: parsed };
}

// --- a real PNG, made here ---------------------------------------------------------------------------

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buffer) {
  let c = 0xffffffff;
  for (const byte of buffer) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A `width`×`height` RGB PNG in a single colour. */
export function png(width = 4, height = 3, rgb = [200, 30, 60]) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type: RGB
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: width }, () => rgb).flat())]);
  const pixels = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(pixels)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

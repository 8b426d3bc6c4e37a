// POST /api/chat/uploadFile with Node's `fetch` (undici, as browsers' fetch behaves): a refused upload's
// 401 or 413 must reach the client as an answer it can read, not as EPIPE/ECONNRESET, for a small and for
// a 60 MB body, sent with a Content-Length or streamed (chunked, as Android's and iOS's clients send).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { makeUsers, startServer } from './server.mjs';

// Limits small enough that 60 MB (and the "small" body) are over them, passed to the server's env.
const LIMIT = 100_000;
for (const name of ['UPLOAD_MAX_AUDIO_BYTES', 'UPLOAD_MAX_IMAGE_BYTES', 'UPLOAD_MAX_FILE_BYTES', 'UPLOAD_MAX_VIDEO_BYTES']) {
  process.env[name] = String(LIMIT);
}
process.env.UPLOAD_MULTIPART_OVERHEAD_BYTES = '4096';

const SMALL = 256 * 1024; // over the limit, under every socket buffer
const BIG = 60 * 1024 * 1024;
const BOUNDARY = 'fetchuploadboundary';

let server;
let alice;

before(async () => {
  server = await startServer();
  [alice] = await makeUsers(server, 'Alice');
});
after(async () => { await server?.stop(); });

function head(messageType, name) {
  return Buffer.from(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="messageType"\r\n\r\n${messageType}\r\n`
    + `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\n`
    + 'Content-Type: application/octet-stream\r\n\r\n',
  );
}
const TAIL = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);

/** A multipart body of `size` file bytes as a stream: fetch sends it chunked, without a Content-Length. */
function streamedBody(size, { messageType = 3, name = 'big.bin', fill = 0 } = {}) {
  const parts = [head(messageType, name)];
  const block = Buffer.alloc(64 * 1024, fill);
  let left = size;
  return new ReadableStream({
    pull(controller) {
      if (parts.length) {
        controller.enqueue(new Uint8Array(parts.shift()));
      } else if (left > 0) {
        const n = Math.min(left, block.length);
        left -= n;
        controller.enqueue(new Uint8Array(block.subarray(0, n)));
      } else {
        controller.enqueue(new Uint8Array(TAIL));
        controller.close();
      }
    },
  });
}

/** A FormData body of `size` bytes: fetch sends it with a Content-Length. */
function formBody(size) {
  const form = new FormData();
  form.append('messageType', '3');
  form.append('file', new Blob([new Uint8Array(size)]), 'big.bin');
  return form;
}

async function upload({ token, body, streamed }) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method: 'POST', headers, body };
  if (streamed) {
    headers['Content-Type'] = `multipart/form-data; boundary=${BOUNDARY}`;
    init.duplex = 'half';
  }
  // A network error (EPIPE, ECONNRESET, "other side closed") rejects here: that is the bug this file guards.
  const response = await fetch(`${server.url}/api/chat/uploadFile`, init);
  return { status: response.status, headers: response.headers, body: await response.json() };
}

function assertEnvelope(answer, status, code) {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.deepEqual(answer.body, { success: false, data: null, message: answer.body.message, code });
  assert.ok(answer.body.message);
}

const SIZES = [['small', SMALL], ['60 MB', BIG]];
const SENDS = [
  ['with a Content-Length', (size) => ({ body: formBody(size), streamed: false })],
  ['streamed (chunked)', (size) => ({ body: streamedBody(size), streamed: true })],
];

for (const [sizeName, size] of SIZES) {
  for (const [sendName, makeBody] of SENDS) {
    test(`fetch reads the 401 of a ${sizeName} body without a token, ${sendName}`, async () => {
      const answer = await upload({ token: null, ...makeBody(size) });
      assertEnvelope(answer, 401, 'unauthorized');
      assert.match(answer.headers.get('www-authenticate'), /^Bearer/);
    });

    test(`fetch reads the 401 of a ${sizeName} body with a bad token, ${sendName}`, async () => {
      const answer = await upload({ token: 'not-a-token', ...makeBody(size) });
      assertEnvelope(answer, 401, 'unauthorized');
    });

    test(`fetch reads the 413 of a ${sizeName} body over the limit, ${sendName}`, async () => {
      const answer = await upload({ token: alice.token, ...makeBody(size) });
      assertEnvelope(answer, 413, 'invalid');
      assert.equal(answer.body.message, 'The request body is too large.');
    });
  }
}

test('a streamed (chunked) upload within the limit is stored and served like any other', async () => {
  const size = 30_000;
  const answer = await upload({ token: alice.token, body: streamedBody(size, { name: 'notes.txt', fill: 0x61 }), streamed: true });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  assert.equal(answer.body.success, true);
  assert.match(answer.body.data, /^\/uploads\/chat-messages\/files\/[^/]+\.txt$/);
  const served = await fetch(`${server.url}${answer.body.data}`);
  assert.equal(served.status, 200);
  assert.equal(served.headers.get('cache-control'), 'private');
  const bytes = Buffer.from(await served.arrayBuffer());
  assert.equal(bytes.length, size);
  assert.ok(bytes.every((b) => b === 0x61));
});

test('after refusals the server still answers on new connections', async () => {
  const health = await fetch(`${server.url}/healthz`);
  assert.equal(health.status, 200);
});

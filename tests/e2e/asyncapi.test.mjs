// GET /api/asyncapi.json, as a live server serves it, validated by the AsyncAPI project's own parser
// (@asyncapi/parser, pinned in package-lock.json): the AsyncAPI 3 schema, $refs, reply messages within their
// channel, examples against their payload schemas. The Python suite (tests/docs) proves every handled and
// emitted event is in the registry the document is made from.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { Parser } from '@asyncapi/parser';

import { startServer } from './server.mjs';

let server;
let raw;

before(async () => {
  server = await startServer();
  const response = await fetch(`${server.url}/api/asyncapi.json`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type'), /application\/json/);
  raw = await response.text();
});
after(async () => { await server?.stop(); });

// Spectral's severities: 0 error, 1 warning, 2 information, 3 hint.
const problems = (diagnostics) => diagnostics.filter((d) => d.severity <= 1)
  .map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`);

test('the AsyncAPI document parses without errors or warnings', async () => {
  const { document, diagnostics } = await new Parser().parse(raw);
  assert.deepEqual(problems(diagnostics), []);
  assert.ok(document, 'the parser returned no document');
  assert.equal(document.version(), '3.1.0');

  const operations = document.operations();
  const received = operations.filterByReceive().map((op) => op.id());
  const sent = operations.filterBySend().map((op) => op.id());
  for (const name of ['createMessage', 'findAllMessages', 'joinRoom', 'roomTyping', 'readMessage']) {
    assert.ok(received.includes(name), `client event ${name} missing`);
  }
  for (const name of ['message', 'messageDeleted', 'typing', 'clientStatus', 'exception']) {
    assert.ok(sent.includes(`emit.${name}`), `server event ${name} missing`);
  }
  // Every client event is answered through its ack: a reply with the ack's message.
  for (const op of operations.filterByReceive()) {
    const reply = op.reply();
    assert.ok(reply, `${op.id()} has no reply`);
    assert.deepEqual(reply.messages().all().map((m) => m.id()), [`${op.id()}.ack`]);
  }
  // The payload schemas resolved: createMessage's required fields, MessageDto inside its ack.
  const create = document.messages().all().find((m) => m.id() === 'createMessage');
  assert.deepEqual(create.payload().required(), ['chatHeaderId', 'message', 'messageType']);
  const ack = document.messages().all().find((m) => m.id() === 'createMessage.ack');
  const success = ack.payload().oneOf()[0];
  assert.ok(success.properties().chatMessage.properties().creationTime, 'MessageDto did not resolve');
});

test('the parser catches a broken document (the check has teeth)', async () => {
  const broken = JSON.parse(raw);
  broken.operations.createMessage.channel = { $ref: '#/channels/nowhere' };
  broken.components.messages.createMessage.examples = [{ payload: { chatHeaderId: 'seven' } }];
  const { diagnostics } = await new Parser().parse(JSON.stringify(broken));
  assert.ok(problems(diagnostics).length >= 1, 'a dangling $ref and a bad example passed');
});

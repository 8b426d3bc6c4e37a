// Reconnect without losing anything (CONTRACT §9) with the official socket.io-client, exactly as the
// README's API notes show it: keep the cursor of the last `sync`, call `sync` on every `connect` until
// `hasMore` is false, apply each change.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { io } from 'socket.io-client';

import { connected } from './helpers.mjs';
import { makeUsers, startServer } from './server.mjs';

let server;
const sockets = [];

before(async () => { server = await startServer(); });
after(async () => {
  for (const socket of sockets) socket.disconnect();
  await server?.stop();
});

function open(user) {
  const socket = io(server.url, {
    query: { userId: user.id }, auth: { accessToken: user.token }, transports: ['websocket'], reconnection: false,
  });
  sockets.push(socket);
  return socket;
}

/** The app's side: its messages per chat, and the README's reconnect loop on every `connect`. */
function app(socket) {
  const state = { cursor: null, chats: new Map(), pages: 0, synced: null };
  const applyChange = (change) => {
    const messages = state.chats.get(change.chatHeaderId) ?? new Map();
    state.chats.set(change.chatHeaderId, messages);
    if (change.type === 'message.created' || change.type === 'message.updated') {
      messages.set(change.data.id, change.data.message);
    } else if (change.type === 'message.deleted') {
      messages.delete(change.data.messageId);
    }
  };
  socket.on('connect', () => {
    state.synced = (async () => {
      let page;
      do {
        page = await socket.emitWithAck('sync', { since: state.cursor, limit: 2 });
        state.pages += 1;
        page.changes.forEach(applyChange);
        state.cursor = page.cursor;
      } while (page.hasMore);
    })();
  });
  return state;
}

test('a client that was away catches up with sync: new, edited and deleted messages', async () => {
  const [alice, bob] = await makeUsers(server, 'Alice', 'Bob');
  const a = open(alice);
  const state = app(a);
  await connected(a);
  await state.synced; // the first start: since null, the current cursor
  assert.equal(typeof state.cursor, 'number');
  assert.equal(state.chats.size, 0);

  const b = open(bob);
  await connected(b);
  const { chatHeaderId } = await b.emitWithAck('joinRoom', { otherUserId: alice.id });
  a.disconnect();

  const send = (message) => b.emitWithAck('createMessage', { chatHeaderId, message, messageType: 0 });
  const one = (await send('one')).chatMessage;
  const two = (await send('two')).chatMessage;
  await send('three');
  await b.emitWithAck('updateMessage', { id: one.id, chatHeaderId, message: 'one, edited' });
  await b.emitWithAck('removeMessage', { id: two.id, chatHeaderId });

  a.connect();
  await connected(a);
  await state.synced;
  assert.ok(state.pages > 1, 'paged with hasMore');
  const history = await b.emitWithAck('findAllMessages', { chatHeaderId });
  const expected = new Map(history.items.reverse().map((m) => [m.id, m.message]));
  assert.deepEqual(state.chats.get(chatHeaderId), expected);
  assert.deepEqual([...expected.values()], ['one, edited', 'three']);

  const again = await a.emitWithAck('sync', { since: state.cursor });
  assert.deepEqual(again, { changes: [], cursor: state.cursor, hasMore: false });
});

test('markDelivered tells the sender its message reached the device', async () => {
  const [alice, bob] = await makeUsers(server, 'Alice', 'Bob');
  const a = open(alice);
  const b = open(bob);
  await Promise.all([connected(a), connected(b)]);
  const { chatHeaderId } = await b.emitWithAck('joinRoom', { otherUserId: alice.id });
  await a.emitWithAck('joinRoom', { chatHeaderId });
  const heard = new Promise((resolve) => b.once('messageDelivered', resolve));
  const { chatMessage } = await b.emitWithAck('createMessage', { chatHeaderId, message: 'hi', messageType: 0 });
  const answer = await a.emitWithAck('markDelivered', { chatHeaderId, lastMessageId: chatMessage.id });
  assert.deepEqual(answer, { chatHeaderId, lastDeliveredMessageId: chatMessage.id });
  assert.deepEqual(await heard, { chatHeaderId, userId: alice.id, lastDeliveredMessageId: chatMessage.id });
});

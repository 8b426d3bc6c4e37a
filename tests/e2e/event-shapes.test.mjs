// CONTRACT §5 with the official socket.io-client: `messageDeleted` and `messageHasBeenRead` carry the spec's
// one argument (a second one turns Flutter's handler argument into a list), `messageRead` carries the details;
// and §11: across a block in a group, nobody hears the other side's reads, typing or joins.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { io } from 'socket.io-client';

import { ack, connected, EventLog, rest } from './helpers.mjs';
import { makeUsers, startServer } from './server.mjs';

let server;
const sockets = [];

before(async () => { server = await startServer(); });
after(async () => {
  for (const socket of sockets) socket.disconnect();
  await server?.stop();
});

async function connect(user) {
  const socket = io(server.url, {
    query: { userId: user.id }, auth: { accessToken: user.token }, transports: ['websocket'], reconnection: false,
  });
  sockets.push(socket);
  const log = new EventLog(socket);
  await connected(socket);
  return { socket, log, call: (event, payload) => ack((cb) => socket.emit(event, payload, cb)) };
}

test('messageDeleted and messageHasBeenRead have exactly one argument; messageRead follows with the details', async () => {
  const [alice, bob] = await makeUsers(server, 'Alice', 'Bob');
  const a = await connect(alice);
  const b = await connect(bob);
  const { chatHeaderId } = await a.call('joinRoom', { otherUserId: bob.id });
  await b.call('joinRoom', { chatHeaderId });
  const { chatMessage } = await a.call('createMessage', { chatHeaderId, message: 'hi', messageType: 0 });

  const read = await b.call('readMessage', { chatHeaderId });
  const hasBeenRead = await a.log.next('messageHasBeenRead');
  assert.equal(hasBeenRead.length, 1);
  assert.equal(hasBeenRead[0], chatHeaderId);
  const details = await a.log.next('messageRead');
  assert.equal(details.length, 1);
  assert.deepEqual(details[0], { chatHeaderId, userId: bob.id, lastReadMessageId: read.lastReadMessageId });
  assert.equal(read.lastReadMessageId, chatMessage.id);
  // What is read has been delivered (CONTRACT §9): the read moved Bob's delivered mark too.
  const delivered = await a.log.next('messageDelivered');
  assert.deepEqual(delivered, [{ chatHeaderId, userId: bob.id, lastDeliveredMessageId: chatMessage.id }]);
  const order = a.log.entries.map((e) => e.event).filter((e) => e.startsWith('message') && e !== 'message');
  assert.deepEqual(order, ['messageHasBeenRead', 'messageRead', 'messageDelivered']);

  await a.call('removeMessage', { chatHeaderId, id: chatMessage.id });
  const deleted = await b.log.next('messageDeleted');
  assert.equal(deleted.length, 1);
  assert.equal(deleted[0], chatMessage.id);
  assert.equal(typeof deleted[0], 'number');
});

test('in a group, a block keeps reads, typing and joins from crossing; the others still hear them', async () => {
  const [alice, bob, carol] = await makeUsers(server, 'Alice', 'Bob', 'Carol');
  // Bob's first token use creates him here, so that Carol can name him.
  assert.equal((await rest(server.url, 'GET', '/api/friendships', bob.token)).status, 200);
  assert.equal((await rest(server.url, 'GET', '/api/friendships', alice.token)).status, 200);
  const created = await rest(server.url, 'POST', '/api/chat/groups', carol.token, { name: 'Trio', memberIds: [alice.id, bob.id] });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const chatHeaderId = created.body.data.id;
  const blocked = await rest(server.url, 'POST', `/api/friendships/${bob.id}/block`, alice.token);
  assert.equal(blocked.status, 201, JSON.stringify(blocked.body));

  const a = await connect(alice);
  const b = await connect(bob);
  const c = await connect(carol);
  await c.call('joinRoom', { chatHeaderId });
  await a.call('joinRoom', { chatHeaderId });
  const joined = await b.call('joinRoom', { chatHeaderId });
  const aliceSeenByBob = joined.members.find((m) => m.userId === alice.id);
  assert.equal(aliceSeenByBob.isOnline, false);
  assert.equal(aliceSeenByBob.isViewingChat, false);
  await c.call('createMessage', { chatHeaderId, message: 'hello both', messageType: 0 });
  await b.call('roomTyping', { chatHeaderId, isTyping: true, name: 'Bob' });
  await b.call('readMessage', { chatHeaderId });

  assert.equal((await c.log.next('onMemberJoin', (m) => m.userId === bob.id)).length, 1);
  assert.equal((await c.log.next('typing', (t) => t.userId === bob.id)).length, 1);
  assert.deepEqual(await c.log.next('messageHasBeenRead'), [chatHeaderId]);
  assert.equal((await c.log.next('messageRead', (d) => d.userId === bob.id))[0].chatHeaderId, chatHeaderId);
  await a.log.barrier();
  for (const event of ['onMemberJoin', 'typing', 'messageHasBeenRead', 'messageRead']) {
    assert.deepEqual(a.log.all(event, (x) => x === chatHeaderId || x?.userId === bob.id), [], event);
  }
  assert.equal(a.log.all('message').length, 1); // messages themselves still reach everyone in a group
});

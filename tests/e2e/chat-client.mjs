// The spec's "Complete Code Examples" ChatClient (chat-api-v0.0.1), copied as our users copied it.
//
// Changes from the spec, each marked `// e2e:`, and nothing else:
//  - the constructor takes io() options (to pick the transports) after the spec's three arguments;
//  - methods take an optional last callback that receives the acknowledgement, so a test can await it
//    (`ack(cb => chat.sendMessage(..., cb))`); without it they emit exactly as the spec does, with no ack;
//  - joinRoom and getAllMessages pass their response on to that callback (the spec `return`s it from
//    inside the socket callback, where nobody receives it).
import { io } from 'socket.io-client';

// e2e: the optional callback goes last, and only when given, so the spec's emits stay ack-less.
const withAck = (callback) => (callback ? [callback] : []);

export class ChatClient {
  constructor(serverUrl, userId, accessToken, options = {}) { // e2e: options
    this.userId = userId;
    this.accessToken = accessToken;
    this.socket = io(serverUrl, {
      query: { userId },
      ...options, // e2e
    });
    this.setupEventListeners();
  }

  setupEventListeners() {
    // Connection events
    this.socket.on('connect', () => {
      console.log('Connected:', this.socket.id);
    });

    this.socket.on('disconnect', () => {
      console.log('Disconnected');
    });

    // Message events
    this.socket.on('message', (data) => {
      console.log('New message:', data);
      this.onMessageReceived(data);
    });

    this.socket.on('typing', (data) => {
      console.log(`${data.name} is typing`);
      this.onTyping(data);
    });

    this.socket.on('clientStatus', (data) => {
      console.log('User status:', data);
      this.onUserStatusChanged(data);
    });

    this.socket.on('onMemberJoin', (member) => {
      console.log('Member joined:', member);
      this.onMemberJoined(member);
    });

    this.socket.on('messageUpdated', (message) => {
      console.log('Message updated:', message);
      this.onMessageUpdated(message);
    });

    this.socket.on('messageDeleted', (messageId) => {
      console.log('Message deleted:', messageId);
      this.onMessageDeleted(messageId);
    });

    this.socket.on('messageHasBeenRead', (chatHeaderId) => {
      console.log('Messages read:', chatHeaderId);
      this.onMessagesRead(chatHeaderId);
    });
  }

  // Join a chat room
  // Option 1: With chatHeaderId (if you already have it)
  joinRoom(chatHeaderId, callback) { // e2e: callback
    this.socket.emit('joinRoom', {
      chatHeaderId,
      userId: this.userId,
      socketId: this.socket.id,
      accessToken: this.accessToken
    }, (response) => {
      console.log('Joined room:', response);
      if (callback) callback(response); // e2e
    });
  }

  // Option 2: With otherUserId (auto-create/get chat header)
  joinRoomWithUser(otherUserId, callback) {
    this.socket.emit('joinRoom', {
      userId: this.userId,
      otherUserId: otherUserId,
      socketId: this.socket.id,
      accessToken: this.accessToken
    }, (response) => {
      if (response.error) {
        console.error('Error joining room:', response.error);
        if (callback) callback(null, response.error);
        return;
      }
      const chatHeaderId = response.chatHeaderId || response.chatHeader?.id;
      console.log('Joined room:', response);
      console.log('Chat Header ID:', chatHeaderId);
      // Store chatHeaderId for future use
      if (callback) callback(response, null);
    });
  }

  // Send a message
  sendMessage(chatHeaderId, message, messageType = 1, caption = '', callback) { // e2e: callback
    this.socket.emit('createMessage', {
      message,
      chatHeaderId,
      accessToken: this.accessToken,
      messageType,
      caption: caption
    }, ...withAck(callback));
  }

  // Get all messages
  getAllMessages(chatHeaderId, skipCount = 0, maxResultCount = 50, callback) { // e2e: callback
    this.socket.emit('findAllMessages', {
      chatHeaderId: chatHeaderId.toString(),
      accessToken: this.accessToken,
      skipCount,
      maxResultCount
    }, (response) => {
      console.log('Messages:', response);
      if (callback) callback(response); // e2e
      return response;
    });
  }

  // Get all chat headers
  getAllChatHeaders(skipCount = 0, maxResultCount = 20, callback) { // e2e: callback
    this.socket.emit('findAllChatHeaders', {
      AccessToken: this.accessToken,
      UserId: this.userId,
      SkipCount: skipCount,
      MaxResultCount: maxResultCount
    }, (response) => {
      console.log('Chat headers:', response);
      if (callback) callback(response); // e2e
      return response;
    });
  }

  // Get friendships and handle null chatHeaderId
  getFriendshipsAndCreateChats(callback) {
    this.socket.emit('getMyFriendships', {
      accessToken: this.accessToken
    }, (friendships) => {
      const pendingChats = [];
      friendships.forEach(friend => {
        if (!friend.chatHeaderId) {
          // Create/get chat header for friends without chat
          pendingChats.push(
            new Promise((resolve) => {
              this.joinRoomWithUser(friend.userId, (response, error) => {
                if (!error && response?.chatHeaderId) {
                  friend.chatHeaderId = response.chatHeaderId;
                }
                resolve(friend);
              });
            })
          );
        }
      });

      Promise.all(pendingChats).then(() => {
        if (callback) callback(friendships);
      });
    });
  }

  // Typing indicator
  setTyping(chatHeaderId, isTyping, userName, callback) { // e2e: callback
    this.socket.emit('roomTyping', {
      isTyping,
      name: userName,
      chatHeaderId
    }, ...withAck(callback));
  }

  // Update a message
  updateMessage(messageId, chatHeaderId, newMessage, caption = '', callback) { // e2e: callback
    this.socket.emit('updateMessage', {
      id: messageId,
      message: newMessage,
      chatHeaderId,
      accessToken: this.accessToken,
      caption: caption
    }, ...withAck(callback));
  }

  // Delete a message
  deleteMessage(messageId, chatHeaderId, callback) { // e2e: callback
    this.socket.emit('removeMessage', {
      id: messageId,
      chatHeaderId,
      accessToken: this.accessToken
    }, ...withAck(callback));
  }

  // Mark messages as read
  markAsRead(chatHeaderId, callback) { // e2e: callback
    this.socket.emit('readMessage', {
      chatHeaderId
    }, ...withAck(callback));
  }

  // Event handlers (override these in your implementation)
  onMessageReceived(data) {}
  onTyping(data) {}
  onUserStatusChanged(data) {}
  onMemberJoined(member) {}
  onMessageUpdated(message) {}
  onMessageDeleted(messageId) {}
  onMessagesRead(chatHeaderId) {}

  // Disconnect
  disconnect() {
    this.socket.disconnect();
  }
}

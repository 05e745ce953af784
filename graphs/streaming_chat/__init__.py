"""streaming-chat: one node that streams a chat model's reply over the thread's conversation."""

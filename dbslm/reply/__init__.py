"""The reply model: candidate responses from the full-text index, ranked by how well they
answer the message (count-derived word vectors), then drawn token by token."""

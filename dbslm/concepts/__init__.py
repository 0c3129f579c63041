"""Level 3: concepts that answer with a span of text before Level 1 continues."""

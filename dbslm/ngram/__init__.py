"""Level 1: n-gram counting, Modified Kneser-Ney, quantization, heads, ARPA, perplexity."""

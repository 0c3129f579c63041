"""Training and forgetting: builds from counts (builds), small batches changed in place
(increment), and pairs taught with their association (teaching)."""

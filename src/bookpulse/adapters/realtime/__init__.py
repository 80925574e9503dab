"""Real-time: the broker that wakes instances up, and the live stream hub."""

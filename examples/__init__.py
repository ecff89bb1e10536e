"""Runnable failure-mode scenarios, one complete feature repo per folder (see each README)."""

"""Is this worker able to do its job right now: broker reachable, its topics present (see broker_watch)."""

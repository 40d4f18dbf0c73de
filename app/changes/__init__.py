"""Account information and guided change requests."""

"""Invoice pages (added in the following commits)."""

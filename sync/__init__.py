"""Orchestration: the sync cycle, the daemon and the `leadq` command line."""

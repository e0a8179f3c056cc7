"""The audit log: who did what to which object, when and through which entry point.

Written by the rooms' shared write paths (the link core, the blocklist, and receivers
for domains, API tokens, webhook sources and flags), read by staff on /audit/. Entries
are never changed or removed (`shortener.audit.models.Entry`)."""

"""The redirect: the hot path (middleware), its lookup cache and visit-limit claims, the
slow path's pages (views), and the pure smart-link decision (decision/)."""

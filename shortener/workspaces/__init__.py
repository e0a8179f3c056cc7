"""Workspaces: a team's links, its members and their roles (owner, editor, viewer), and
the invitations that bring people in. Every user has a personal workspace, made with
the account. Who may do what with a role is decided in shortener/links/access.py; this
room holds the tables and the few writes that keep them whole (at least one owner)."""

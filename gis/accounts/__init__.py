"""Who may act: accounts of people, keys of other systems, logins, and the audit trail.

Owns the ``account``, ``api_key``, ``auth_session``, ``login_failure`` and
``audit_log`` tables (migration 0007) and turns a login or a key into a
``gis.principal.Principal`` with its role, scopes and areas. Imports
``gis.areas`` and below; the edges (``api``, ``cli``) decide what each
principal may call, and ``gis.incidents`` what each may do to a case.
"""

"""layers: what a map shows (styles, labels, popups); no database, no HTTP."""

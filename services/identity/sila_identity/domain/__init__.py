"""Pure business logic of identity: no database, no HTTP."""

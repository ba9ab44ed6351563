"""Pure business logic of tickets: no database, no HTTP."""

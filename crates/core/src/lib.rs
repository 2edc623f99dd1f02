//! Ferry client core (local snapshot, durable outbox, sync engine): see the client core issue.

"""Integration with the back-office ERP: delivering the outbox's events (app.events) as signed
webhooks."""

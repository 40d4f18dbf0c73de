"""The outbox of business events: every domain records what happened here, in the same
transaction as the change itself; the ERP integration (app.erp) delivers them later."""

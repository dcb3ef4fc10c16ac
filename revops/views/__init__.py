"""Web pages that span apps: deal board and approvals inbox, manager dashboards."""

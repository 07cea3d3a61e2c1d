"""Analytics: projections of case events into measures, and the queries analysts read."""

"""Time as the service counts it: the work calendar (法定工作日) and the clock."""

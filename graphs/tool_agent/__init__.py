"""tool-agent: a ReAct loop over a few offline tools, one of which asks before it acts."""

"""The AG-UI API: ``POST /ag-ui`` and ``POST /ag-ui/{graphType}`` take a RunAgentInput."""

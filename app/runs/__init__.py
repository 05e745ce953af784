"""The one run model every API feeds: a :class:`~app.runs.spec.RunSpec` (what to run), its
execution (``execute``, ``graph_modes``, ``tap``, ``repair``), the typed events it produces
(``events``), the :class:`~app.runs.run.Run` that drives it in its own task, the registry of
this process's runs (``registry``) and the ordered steps at its start and end (``lifecycle``)."""

"""The call journal: every call's events in the database, its recording, and what the
supervisors' pages read from them (:mod:`bot.web.pages_journal`, :mod:`bot.web.pages_dashboard`).

- :mod:`bot.journal.store`: the call store (a subscriber per call, one writer task);
- :mod:`bot.journal.recorder` + :mod:`bot.journal.ogg_opus`: stereo Ogg/Opus recordings
  written while the call runs;
- :mod:`bot.journal.queries`: the journal's filters, a call's page, the dashboard's figures;
- :mod:`bot.journal.retention`: disk use, deleting recordings and calls older than a date;
- :mod:`bot.journal.service`: what the server starts and stops.
"""

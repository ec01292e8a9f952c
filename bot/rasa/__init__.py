"""Rasa for real (README «Use with Rasa»).

- :mod:`bot.rasa.nlu`: Rasa as the NLU engine (``nlu.engine: rasa``), our Russian numbers;
- :mod:`bot.rasa.policy`: a Rasa assistant as the whole dialogue (``dialog.engine: rasa``),
  the bot being its telephone and voice channel; :mod:`bot.rasa.payloads` is the reference
  of the custom payloads it acts on;
- :mod:`bot.rasa.actions`: our shop as Rasa custom actions (rasa-sdk), served by
  :mod:`bot.rasa.action_server` (``python -m bot rasa-actions``);
- :mod:`bot.rasa.project`: the starter assistant (``data/rasa/``) laid out for training;
- :mod:`bot.rasa.engines`: both engines chosen by name from the configuration.
"""

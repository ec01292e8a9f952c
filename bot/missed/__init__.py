"""Missed calls (Case 3 and the missed-call manual): intake from the PBX, SMS, call-backs.

Modules: ``statuses`` (the journal's statuses), ``store`` (the ``missed_calls`` table),
``intake`` (HTTP, Asterisk AMI, Telphin, the bot's own unanswered handoffs), ``sms_*`` (the
rules and the outbox), ``callback_*`` / ``scheduler`` / ``dialer`` (call-backs), voicemail.
"""

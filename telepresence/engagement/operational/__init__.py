"""Operational alerts as engagement alerts: moves not done, a robot offline or low on battery
before a booked lesson, a pupil "too unwell today".

``rules`` (pure) says when each opens and when its cause has gone; ``store``
opens and clears them in the ``engagement_alerts`` table (one open per pupil,
rule and subject); ``hooks`` wires them where they are raised (the rota's
alert hooks, the "too unwell today" doors) and ``store.sync`` runs in the
engagement minute job for what only time reveals (an escalated move, a
robot still offline as its lesson nears, a day that is over).
"""

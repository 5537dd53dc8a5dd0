"""The engagement pages people look at: the coordinator's dashboard, a pupil's engagement
page and the home-school report (HTML and PDF).

``charts`` draws the figures as inline SVG (pure), ``periods`` turns the filter
form into a date range, ``views`` gathers the figures (aggregate SQL through
``engagement.figures`` and ``engagement.services``), ``pdf`` writes the report
as PDF (fpdf2), and ``pages``/``report`` are the handlers.
"""

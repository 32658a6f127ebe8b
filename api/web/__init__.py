"""The monitoring web page: grid and detail queries, site cards, HTML rendering, assets.

Routes live in `api.routes.web`; the templates and static files in `templates/` and
`static/` ship as package data.
"""

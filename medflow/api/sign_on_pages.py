"""The few HTML pages of browser sign-on (medflow/api/browser_auth.py): the password form and
a message page. Plain server-rendered HTML, no script, no external resource; every value is
HTML-escaped unless it is a fragment built here (Markup).
"""
from __future__ import annotations

import html
from string import Template

from starlette.responses import Response

HTML_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",  # no clickjacking of the sign-in form
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class Markup(str):
    """A fragment built by render(): inserted as is. Everything else is escaped."""


def render(template: str, **values) -> Markup:
    escaped = {k: v if isinstance(v, Markup) else html.escape(str(v), quote=True) for k, v in values.items()}
    return Markup(Template(template).substitute(escaped))


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title - MedFlow</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;color:#1b1f24}
label{display:block;margin-top:1rem}input{width:100%;padding:.5rem;box-sizing:border-box;font-size:1rem}
button{margin-top:1.25rem;padding:.55rem 1.2rem;font-size:1rem}.alert{padding:.6rem;background:#fdecea;
border:1px solid #e0a4a0}.note{color:#4b5563}</style></head>
<body><main><h1>$title</h1>$body</main></body></html>"""

_LOGIN_FORM = """$signed_in$alert
<p class="note">Sign in with your MedFlow account: the user name and password your MedFlow admin gave you
(the same as MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD for the mlflow client).$sso</p>
<form method="post" action="$action">
<input type="hidden" name="csrf_token" value="$csrf"><input type="hidden" name="next" value="$next">
<label for="username">User name</label>
<input id="username" name="username" value="$username" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>"""


def page(title: str, body: Markup, status: int = 200) -> Response:
    return Response(render(_PAGE, title=title, body=body), status_code=status, media_type="text/html",
                    headers=HTML_HEADERS)


def message_page(title: str, message: str, status: int, *, link: str, link_text: str) -> Response:
    return page(title, render('<p class="alert" role="alert">$message</p><p><a href="$link">$text</a></p>',
                              message=message, link=link, text=link_text), status)


def login_form_page(*, action: str, csrf: str, next_path: str, username: str, alert: str, status: int,
                    signed_in_as: tuple[str, str] | None, sso_href: str | None) -> Response:
    """The password form. `signed_in_as`: (display name, user name) of a live session; `sso_href`:
    where single sign-on starts, when it is configured."""
    signed_in = Markup("")
    if signed_in_as:
        signed_in = render("<p>You are signed in as $name ($user). Signing in again replaces that session.</p>",
                           name=signed_in_as[0], user=signed_in_as[1])
    sso = render(' Or <a href="$href">sign in with your organisation\'s single sign-on</a>.',
                 href=sso_href) if sso_href else Markup("")
    body = render(_LOGIN_FORM, signed_in=signed_in, sso=sso, action=action, csrf=csrf, next=next_path,
                  username=username,
                  alert=render('<p class="alert" role="alert">$m</p>', m=alert) if alert else Markup(""))
    return page("Sign in to MedFlow", body, status)

"""E-mail through the EMAIL_* SMTP settings (standard library smtplib, run off the event loop). Without an SMTP
host the reset link is logged in development only; elsewhere the log says the e-mail was not sent."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage

from starlette.concurrency import run_in_threadpool

from core.settings import Settings

log = logging.getLogger(__name__)

RESET_SUBJECT = "Redefinição de senha — DNA da Força"
RESET_BODY = """Olá{name},

Recebemos um pedido para redefinir a senha da sua conta no assistente DNA da Força.
Para escolher uma nova senha, abra o link abaixo (válido por {minutes} minutos):

{link}

Se não foi você quem pediu, ignore este e-mail: sua senha continua a mesma.

Equipe DNA da Força
"""


def _send(settings: Settings, message: EmailMessage) -> None:
    kind = smtplib.SMTP_SSL if settings.email_use_ssl else smtplib.SMTP
    with kind(settings.email_host, settings.email_port, timeout=settings.email_timeout_seconds) as smtp:
        if settings.email_use_tls and not settings.email_use_ssl:
            smtp.starttls(context=ssl.create_default_context())
        if settings.email_username and settings.email_password:
            smtp.login(settings.email_username, settings.email_password.get_secret_value())
        smtp.send_message(message)


async def send_password_reset(settings: Settings, to: str, full_name: str, token: str) -> None:
    link = f"{settings.frontend_url.rstrip('/')}/redefinir-senha?token={token}"
    if not settings.email_host:
        # A reset link is a password: only a developer's own machine may print it.
        if settings.environment == "development":
            log.warning("EMAIL_HOST is not set: password reset link for %s not sent: %s", to, link)
        else:
            log.error("EMAIL_HOST is not set: the password reset e-mail for %s was not sent", to)
        return
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = RESET_SUBJECT, settings.email_from, to
    name = f", {full_name.split()[0]}" if full_name.strip() else ""
    message.set_content(RESET_BODY.format(name=name, minutes=settings.password_reset_expire_minutes, link=link))
    try:
        await run_in_threadpool(_send, settings, message)
    except (OSError, smtplib.SMTPException) as error:
        # The caller's answer must not reveal whether the account exists, so a failure is logged, not returned.
        log.error("Could not send the password reset e-mail to %s: %s", to, error)

"""Where each service's Nameko class and WSGI app live (used by runners and deploy tools)."""

import importlib

SERVICE_CLASSES = {
    "intake": "services.intake.service:IntakeService",
    "casework": "services.casework.service:CaseworkService",
    "notifications": "services.notifications.service:NotificationsService",
    "reporting": "services.reporting.service:ReportingService",
}

WSGI_APPS = {name: f"services.{name}.api:create_app()" for name in SERVICE_CLASSES}


def service_class(name):
    module, _, attr = SERVICE_CLASSES[name].partition(":")
    return getattr(importlib.import_module(module), attr)

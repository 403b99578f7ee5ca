"""The reporting Nameko service: entrypoints only.

Reporting keeps the permanent event store, so it consumes every event type of the
catalogue: one handler per type (each its own queue,
``evt-<producer>-<type>--reporting.<method>``), written out below; a contract test
checks that every contract naming reporting as a consumer has one. Each validates the
event, keeps it and projects it.
"""
from nameko.timer import timer

from services.common import contracts
from services.common.dependencies import LogContext
from services.common.envelope import load_event
from services.common.messaging import handles
from services.reporting import handlers
from services.reporting.projector import ProjectorProvider

DRAIN_INTERVAL_S = 2.0


class ReportingService:
    name = "reporting"

    projector = ProjectorProvider()
    log_context = LogContext()

    def _keep(self, body, contract):
        envelope, data = load_event(body, contract)
        handlers.keep(self.projector, envelope, data)

    @timer(interval=DRAIN_INTERVAL_S)
    def project_pending(self):
        """Project events kept while another instance held the projector lease."""
        self.projector.drain()

    @handles(contracts.REQUEST_RECEIVED)
    def request_received(self, body):
        """Keep request.received in the event store and project it."""
        self._keep(body, contracts.REQUEST_RECEIVED)

    @handles(contracts.RESIDENT_REGISTRY_UPDATED)
    def resident_registry_updated(self, body):
        """Keep resident.registry_updated in the event store and project it."""
        self._keep(body, contracts.RESIDENT_REGISTRY_UPDATED)

    @handles(contracts.CASE_OPENED)
    def case_opened(self, body):
        """Keep case.opened in the event store and project it."""
        self._keep(body, contracts.CASE_OPENED)

    @handles(contracts.CASE_ASSIGNED)
    def case_assigned(self, body):
        """Keep case.assigned in the event store and project it."""
        self._keep(body, contracts.CASE_ASSIGNED)

    @handles(contracts.CASE_ACCEPTED)
    def case_accepted(self, body):
        """Keep case.accepted in the event store and project it."""
        self._keep(body, contracts.CASE_ACCEPTED)

    @handles(contracts.CASE_ACTION_RECORDED)
    def case_action_recorded(self, body):
        """Keep case.action_recorded in the event store and project it."""
        self._keep(body, contracts.CASE_ACTION_RECORDED)

    @handles(contracts.CASE_REQUEST_LINKED)
    def case_request_linked(self, body):
        """Keep case.request_linked in the event store and project it."""
        self._keep(body, contracts.CASE_REQUEST_LINKED)

    @handles(contracts.CASE_ESCALATED)
    def case_escalated(self, body):
        """Keep case.escalated in the event store and project it."""
        self._keep(body, contracts.CASE_ESCALATED)

    @handles(contracts.CASE_SLA_BREACHED)
    def case_sla_breached(self, body):
        """Keep case.sla_breached in the event store and project it."""
        self._keep(body, contracts.CASE_SLA_BREACHED)

    @handles(contracts.CASE_REFERRED)
    def case_referred(self, body):
        """Keep case.referred in the event store and project it."""
        self._keep(body, contracts.CASE_REFERRED)

    @handles(contracts.CASE_REFERRAL_ANSWERED)
    def case_referral_answered(self, body):
        """Keep case.referral_answered in the event store and project it."""
        self._keep(body, contracts.CASE_REFERRAL_ANSWERED)

    @handles(contracts.CASE_RESIDENT_UNREACHED)
    def case_resident_unreached(self, body):
        """Keep case.resident_unreached in the event store: the trace shows who was not told."""
        self._keep(body, contracts.CASE_RESIDENT_UNREACHED)

    @handles(contracts.REFERRAL_SENT)
    def referral_sent(self, body):
        """Keep referral.sent (what left for the agency) in the event store: the trace shows it."""
        self._keep(body, contracts.REFERRAL_SENT)

    @handles(contracts.REFERRAL_ANSWERED)
    def referral_answered(self, body):
        """Keep referral.answered (an agency's answer) in the event store: the trace shows it."""
        self._keep(body, contracts.REFERRAL_ANSWERED)

    @handles(contracts.CASE_RESOLVED)
    def case_resolved(self, body):
        """Keep case.resolved in the event store and project it."""
        self._keep(body, contracts.CASE_RESOLVED)

    @handles(contracts.CASE_CLOSED)
    def case_closed(self, body):
        """Keep case.closed in the event store and project it."""
        self._keep(body, contracts.CASE_CLOSED)

    @handles(contracts.CASE_REOPENED)
    def case_reopened(self, body):
        """Keep case.reopened in the event store and project it."""
        self._keep(body, contracts.CASE_REOPENED)

    @handles(contracts.CASE_CANCELLED)
    def case_cancelled(self, body):
        """Keep case.cancelled in the event store and project it."""
        self._keep(body, contracts.CASE_CANCELLED)

    @handles(contracts.VOLUNTEER_TEAM_FORMED)
    def program_volunteer_team_formed(self, body):
        """Keep program.volunteer_team_formed in the event store and project it."""
        self._keep(body, contracts.VOLUNTEER_TEAM_FORMED)

    @handles(contracts.VOLUNTEER_JOINED)
    def program_volunteer_joined(self, body):
        """Keep program.volunteer_joined in the event store and project it."""
        self._keep(body, contracts.VOLUNTEER_JOINED)

    @handles(contracts.SOCIAL_ORGANISATION_CULTIVATED)
    def program_social_organisation_cultivated(self, body):
        """Keep program.social_organisation_cultivated in the event store and project it."""
        self._keep(body, contracts.SOCIAL_ORGANISATION_CULTIVATED)

    @handles(contracts.DONATION_RECEIVED)
    def program_donation_received(self, body):
        """Keep program.donation_received in the event store and project it."""
        self._keep(body, contracts.DONATION_RECEIVED)

    @handles(contracts.AID_DISTRIBUTED)
    def program_aid_distributed(self, body):
        """Keep program.aid_distributed in the event store and project it."""
        self._keep(body, contracts.AID_DISTRIBUTED)

    @handles(contracts.ACTIVITY_HELD)
    def program_activity_held(self, body):
        """Keep program.activity_held in the event store and project it."""
        self._keep(body, contracts.ACTIVITY_HELD)

    @handles(contracts.STATION_ROSTER_PUBLISHED)
    def station_roster_published(self, body):
        """Keep station.roster_published in the event store and project it."""
        self._keep(body, contracts.STATION_ROSTER_PUBLISHED)

    @handles(contracts.MESSAGE_SENT)
    def message_sent(self, body):
        """Keep message.sent in the event store and project it."""
        self._keep(body, contracts.MESSAGE_SENT)

    @handles(contracts.MESSAGE_DELIVERED)
    def message_delivered(self, body):
        """Keep message.delivered in the event store and project it."""
        self._keep(body, contracts.MESSAGE_DELIVERED)

    @handles(contracts.MESSAGE_FAILED)
    def message_failed(self, body):
        """Keep message.failed in the event store and project it."""
        self._keep(body, contracts.MESSAGE_FAILED)
